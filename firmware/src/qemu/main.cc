// The QEMU harness of the tinysign device app: runs Setup() and ProcessFrame() for every frame of the test
// stream and prints what happened in the console protocol (console_protocol.h) for the Python driver, with
// a calibration of SysTick ticks to instructions (QEMU -icount), the tensors' quantization, the arena and
// the memory used. A board has its own main(): Setup(), then ProcessFrame() for every camera frame.
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "console.h"
#include "main_functions.h"
#include "model_settings.h"
#include "platform.h"
#include "test_stream.h"  // generated: kStreamFrames, kStreamClips

#ifndef TS_TARGET_NAME
#define TS_TARGET_NAME "?"
#endif
#ifndef TS_RESET_PER_CLIP
#define TS_RESET_PER_CLIP 0
#endif

namespace {

void PrintTensor(const char* model, const char* which, const TfLiteTensor* t) {
  char dims[48] = "";
  for (int i = 0, n = 0; i < t->dims->size && n < static_cast<int>(sizeof(dims)); ++i)
    n += snprintf(dims + n, sizeof(dims) - n, i ? "x%d" : "%d", t->dims->data[i]);
  uint32_t bits;
  memcpy(&bits, &t->params.scale, sizeof(bits));
  ConsoleLine(TS_FORMAT_TENSOR, model, which, static_cast<int>(t->type), dims, static_cast<unsigned long>(bits),
              static_cast<int>(t->params.zero_point));
}

int Run() {
  ConsoleLine(TS_FORMAT_BEGIN, TS_TARGET_NAME, static_cast<unsigned>(ArenaBytes()), kStreamFrames, kStreamClips,
              kNumFrames, kFeatureDim, kNumClasses, kImageSize, TS_FRONTEND_KIND == TS_FRONTEND_RAW ? "raw" : "diff",
              TS_FRONTEND_BINNING, TS_RESET_PER_CLIP, TS_DUMP_FRAME, kSpotWindow, static_cast<long>(kSpotThreshold),
              kSpotSuppression);
  const uint32_t kCalibration = 1000000;
  const uint64_t ticks = platform_calibrate(kCalibration);
  ConsoleLine(TS_FORMAT_CALIB, static_cast<unsigned long>(kCalibration), static_cast<unsigned long>(ticks));

  if (Setup() != kTfLiteOk) {
    ConsoleLine(TS_FORMAT_ERROR, "Setup() failed");
    return 2;
  }
  ConsoleLine(TS_FORMAT_ARENA, static_cast<unsigned>(ArenaBytes()), static_cast<unsigned>(ArenaUsedBytes()),
              static_cast<unsigned>(FrameArenaUsedBytes()));
  PrintTensor("frame", "in", FrameModel().interpreter->input(0));
  PrintTensor("frame", "out", FrameModel().interpreter->output(0));
  PrintTensor("head", "in", HeadModel().interpreter->input(0));
  PrintTensor("head", "out", HeadModel().interpreter->output(0));

  for (int frame = 0; frame < kStreamFrames; ++frame) {
    if (ProcessFrame() != kTfLiteOk) {
      ConsoleLine(TS_FORMAT_ERROR, "ProcessFrame() failed");
      return 4;
    }
  }
  ConsoleLine(TS_FORMAT_MEM, static_cast<unsigned>(platform_heap_used()), static_cast<unsigned>(platform_heap_size()),
              static_cast<unsigned>(platform_stack_used()), static_cast<unsigned>(platform_stack_size()));
  return 0;
}

}  // namespace

int main() {
  ConsoleInit();
  const int status = Run();
  ConsoleLine(TS_FORMAT_END, status);
  fflush(stdout);
  return status;
}
