// The camera under QEMU: the generated test stream (test_stream.h), one frame per call. A new stream starts
// at frame 0 and, in TS_RESET_PER_CLIP builds, at every clip.
#include "frame_provider.h"

#include "model_settings.h"
#include "test_stream.h"  // generated: kStreamFrames, g_stream_frames, g_stream_clip_starts

#ifndef TS_RESET_PER_CLIP
#define TS_RESET_PER_CLIP 0
#endif

static_assert(kStreamPixels == kFramePixels, "the test stream and the model disagree on the frame size");

namespace {
int g_next = 0;
int g_clip = 0;  // clip of the next frame
}  // namespace

TfLiteStatus GetFrame(CameraFrame* frame) {
  if (g_next >= kStreamFrames) return kTfLiteError;
  const bool clip_start = g_clip < kStreamClips && g_next == g_stream_clip_starts[g_clip];
  if (clip_start) ++g_clip;
  frame->pixels = g_stream_frames[g_next];
  frame->starts_stream = g_next == 0 || (TS_RESET_PER_CLIP && clip_start);
  ++g_next;
  return kTfLiteOk;
}
