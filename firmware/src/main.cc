// tinysign streaming firmware: the INT8 frame model runs on every camera frame, its feature vector goes
// into a ring buffer of the last kNumFrames vectors, and the temporal head classifies the buffer (oldest
// first) on every frame once it is full. Here the camera is a few real test clips (test_clips.h) played
// back as one continuous stream; everything is printed over the console for the Python driver.
//
// Model-independent: shapes and quantization are read from the models (and checked against the
// constants of the generated model_data.h), the op resolver comes from the generated model_ops.h.
//
// Output protocol (one record per line, all int8 tensors as two hex digits per value, two's complement):
//   TS BEGIN target=<m7|m55> ...                     configuration
//   TS CALIB iterations=<n> ticks=<t>                a 2n-instruction loop took t SysTick ticks
//   TS TENSOR <frame|head> <in|out> dims=.. scale_bits=<float bits> zp=<zero point>
//   TS ARENA size=<bytes> used=<bytes> frame_used=<bytes>
//   TS F <stream frame> <clip> <frame in clip> <ticks frontend> <ticks Invoke> <features hex>
//   TS H <stream frame> <clip> <frame in clip> <ticks ring->input> <ticks Invoke> <head output hex>
//   TS TOP <clip> <label> <top class> <top int8 score>   at the last frame of each clip
//   TS OP <frame|head> <stream frame> <op index> <tensor index> <hex of the raw bytes>   (TS_DUMP_FRAME builds)
//   TS MEM heap_used=.. heap_size=.. stack_used=.. stack_size=..
//   TS END status=<0 ok>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "frontend.h"
#include "model_data.h"  // generated: g_streaming_{frame,head}_model_data, kNumFrames, kFeatureDim, ...
#include "model_ops.h"   // generated: kNumModelOps, RegisterModelOps()
#include "platform.h"
#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"
#include "tensorflow/lite/micro/memory_helpers.h"
#include "tensorflow/lite/micro/micro_allocator.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/micro/recording_micro_allocator.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "test_clips.h"  // generated: kNumTestClips, kTestClipFrames, g_test_clips, g_test_clip_labels

#ifndef TS_TARGET_NAME
#define TS_TARGET_NAME "?"
#endif
// Tensor arena shared by both interpreters. Default: the host-probed sizes of the generated header
// (an upper bound on target); the driver rebuilds with the measured `used + 16`.
#ifndef TS_ARENA_BYTES
#define TS_ARENA_BYTES (kStreamingFrameArenaSize + kStreamingHeadArenaSize)
#endif
// Debug build: keep every tensor (linear memory planner, arena outside the RAM budget) and print
// every op output of both models at stream frame TS_DUMP_FRAME.
#ifndef TS_DUMP_FRAME
#define TS_DUMP_FRAME -1
#endif
#ifndef TS_DUMP_ARENA_BYTES
#define TS_DUMP_ARENA_BYTES (256 * 1024)
#endif
// Reset the ring buffer (and the front end's previous frame) at every clip instead of one stream.
#ifndef TS_RESET_PER_CLIP
#define TS_RESET_PER_CLIP 0
#endif
// Print RecordingMicroAllocator's breakdown of the arena.
#ifndef TS_RECORD_ARENA
#define TS_RECORD_ARENA 0
#endif

namespace {

constexpr int kFramePixels = kImageSize * kImageSize;  // camera frame (uint8)
constexpr int kInputSide = kImageSize / TS_FRONTEND_BINNING;
constexpr int kInputPixels = kInputSide * kInputSide;  // frame-model input (int8), after binning
static_assert(kTestClipPixels == kFramePixels, "test clips and model disagree on the frame size");
static_assert(kImageSize % TS_FRONTEND_BINNING == 0, "binning must divide the frame size");

#if TS_DUMP_FRAME >= 0
constexpr size_t kArenaBytes = TS_DUMP_ARENA_BYTES;
__attribute__((section(".scratch"), aligned(16))) uint8_t g_arena[kArenaBytes];
#else
constexpr size_t kArenaBytes = TS_ARENA_BYTES;
alignas(16) uint8_t g_arena[kArenaBytes];
#endif

// The last kNumFrames feature vectors as on a device: a circular write index, no shifting.
struct RingBuffer {
  int8_t data[kNumFrames][kFeatureDim];
  int next = 0;   // slot of the next vector == the oldest one once full
  int count = 0;  // vectors pushed since reset (saturates at kNumFrames)

  void Reset() {
    next = 0;
    count = 0;
    memset(data, 0, sizeof(data));
  }
  bool Full() const { return count >= kNumFrames; }
  void Push(const int8_t* feature) {
    memcpy(data[next], feature, kFeatureDim);
    next = (next + 1) % kNumFrames;
    if (count < kNumFrames) ++count;
  }
  // The head's input: the last kNumFrames vectors, oldest first.
  void CopyOldestFirst(int8_t* out) const {
    for (int i = 0; i < kNumFrames; ++i) memcpy(out + i * kFeatureDim, data[(next + i) % kNumFrames], kFeatureDim);
  }
};

RingBuffer g_ring;
int8_t g_feature[kFeatureDim];
char g_line[32 + 2 * (kFeatureDim > kNumClasses ? kFeatureDim : kNumClasses)];

void LogToConsole(const char* s) { fputs(s, stdout); }

// "<prefix><hex of n int8>\n", written in chunks of g_line.
void PrintHex(const char* prefix, const int8_t* v, int n) {
  static const char kDigits[] = "0123456789abcdef";
  fputs(prefix, stdout);
  int len = 0;
  for (int i = 0; i < n; ++i) {
    const uint8_t b = static_cast<uint8_t>(v[i]);
    g_line[len++] = kDigits[b >> 4];
    g_line[len++] = kDigits[b & 15];
    if (len >= static_cast<int>(sizeof(g_line)) - 2) {
      g_line[len] = 0;
      fputs(g_line, stdout);
      len = 0;
    }
  }
  g_line[len++] = '\n';
  g_line[len] = 0;
  fputs(g_line, stdout);
}

int Elements(const TfLiteTensor* t) {
  int n = 1;
  for (int i = 0; i < t->dims->size; ++i) n *= t->dims->data[i];
  return n;
}

float Scale(const TfLiteTensor* t) { return t->params.scale; }
int ZeroPoint(const TfLiteTensor* t) { return t->params.zero_point; }

void PrintTensor(const char* model, const char* which, const TfLiteTensor* t) {
  uint32_t bits;
  float scale = Scale(t);
  memcpy(&bits, &scale, sizeof(bits));
  printf("TS TENSOR %s %s type=%d dims=", model, which, static_cast<int>(t->type));
  for (int i = 0; i < t->dims->size; ++i) printf(i ? "x%d" : "%d", t->dims->data[i]);
  printf(" scale_bits=0x%08lx zp=%d\n", static_cast<unsigned long>(bits), ZeroPoint(t));
}

bool Check(bool ok, const char* what) {
  if (!ok) printf("TS ERROR %s\n", what);
  return ok;
}

#if TS_DUMP_FRAME >= 0
// Every op output of `model` (all tensors are preserved by the linear planner).
void DumpOps(const char* name, const tflite::Model* model, tflite::MicroInterpreter& interpreter, int frame) {
  static char prefix[64];
  const auto* ops = model->subgraphs()->Get(0)->operators();
  for (unsigned op = 0; op < ops->size(); ++op) {
    const auto* outputs = ops->Get(op)->outputs();
    for (unsigned k = 0; k < outputs->size(); ++k) {
      const int index = outputs->Get(k);
      const TfLiteEvalTensor* t = interpreter.GetTensor(index);
      size_t bytes = 0;
      tflite::TfLiteEvalTensorByteLength(t, &bytes);
      snprintf(prefix, sizeof(prefix), "TS OP %s %d %u %d ", name, frame, op, index);
      PrintHex(prefix, t->data.int8, static_cast<int>(bytes));  // raw bytes, any tensor type
    }
  }
}
#endif

// Requantizes a frame-model feature vector to the head's input quantization when they differ
// (tinysign quantize makes them equal, then it is a copy). Float math like evaluate.quantize().
void ToHeadInput(const TfLiteTensor* frame_out, const TfLiteTensor* head_in, int8_t* dst) {
  const int8_t* src = frame_out->data.int8;
  if (Scale(frame_out) == Scale(head_in) && ZeroPoint(frame_out) == ZeroPoint(head_in)) {
    memcpy(dst, src, kFeatureDim);
    return;
  }
  for (int i = 0; i < kFeatureDim; ++i) {
    const float x = static_cast<float>(src[i] - ZeroPoint(frame_out)) * Scale(frame_out);
    float q = __builtin_rintf(x / Scale(head_in)) + static_cast<float>(ZeroPoint(head_in));
    q = q < -128.f ? -128.f : (q > 127.f ? 127.f : q);
    dst[i] = static_cast<int8_t>(q);
  }
}

// Invokes one model and prints its "TS <kind> stream_frame clip frame prepare_ticks invoke_ticks <int8 output>"
// line (and, at TS_DUMP_FRAME, every op's output). False if Invoke failed.
bool InvokeAndReport(char kind, const char* name, const tflite::Model* model, tflite::MicroInterpreter& interpreter,
                     int stream_frame, int clip, int f, uint64_t prepare_ticks) {
  const uint64_t start = platform_ticks();
  if (interpreter.Invoke() != kTfLiteOk) {
    printf("TS ERROR %s Invoke\n", name);
    return false;
  }
  const uint64_t invoke_ticks = platform_ticks() - start;
  const TfLiteTensor* out = interpreter.output(0);
  char prefix[64];
  snprintf(prefix, sizeof(prefix), "TS %c %d %d %d %lu %lu ", kind, stream_frame, clip, f,
           static_cast<unsigned long>(prepare_ticks), static_cast<unsigned long>(invoke_ticks));
  PrintHex(prefix, out->data.int8, Elements(out));
#if TS_DUMP_FRAME >= 0
  if (stream_frame == TS_DUMP_FRAME) DumpOps(name, model, interpreter, stream_frame);
#else
  (void)model;
#endif
  return true;
}

int Run() {
  // Unbuffered console: newlib then needs no malloc'd stdio buffer (heap stays unused), and output up to
  // a crash is not lost in a buffer.
  setvbuf(stdout, nullptr, _IONBF, 0);
  RegisterDebugLogCallback(LogToConsole);
  printf("TS BEGIN target=%s arena_bytes=%u clips=%d frames_per_clip=%d num_frames=%d feature_dim=%d "
         "classes=%d image=%d frontend=%s binning=%d reset_per_clip=%d dump_frame=%d\n",
         TS_TARGET_NAME, static_cast<unsigned>(kArenaBytes), kNumTestClips, kTestClipFrames, kNumFrames,
         kFeatureDim, kNumClasses, kImageSize, TS_FRONTEND_KIND == TS_FRONTEND_RAW ? "raw" : "diff",
         TS_FRONTEND_BINNING, TS_RESET_PER_CLIP, TS_DUMP_FRAME);
  const uint32_t kCalib = 1000000;
  const uint64_t calib_ticks = platform_calibrate(kCalib);
  printf("TS CALIB iterations=%lu ticks=%lu\n", static_cast<unsigned long>(kCalib),
         static_cast<unsigned long>(calib_ticks));

  const tflite::Model* frame_model = tflite::GetModel(g_streaming_frame_model_data);
  const tflite::Model* head_model = tflite::GetModel(g_streaming_head_model_data);
  if (!Check(frame_model->version() == TFLITE_SCHEMA_VERSION && head_model->version() == TFLITE_SCHEMA_VERSION,
             "schema version")) return 2;

  tflite::MicroMutableOpResolver<kNumModelOps> resolver;
  if (!Check(RegisterModelOps(resolver) == kTfLiteOk, "op resolver")) return 2;

  // One allocator for both interpreters (multi-tenant): they run one after the other, so the head's
  // scratch tensors reuse the frame model's. Persistent parts of both stay.
#if TS_DUMP_FRAME >= 0
  // Debug build: one linear-planner arena per model (the linear planner is not multi-tenant).
  tflite::MicroAllocator* allocator =
      tflite::MicroAllocator::Create(g_arena, kArenaBytes / 2, tflite::MemoryPlannerType::kLinear);
  tflite::MicroAllocator* head_allocator = tflite::MicroAllocator::Create(
      g_arena + kArenaBytes / 2, kArenaBytes / 2, tflite::MemoryPlannerType::kLinear);
#elif TS_RECORD_ARENA
  tflite::RecordingMicroAllocator* allocator = tflite::RecordingMicroAllocator::Create(g_arena, kArenaBytes);
#else
  tflite::MicroAllocator* allocator = tflite::MicroAllocator::Create(g_arena, kArenaBytes);
#endif
  if (!Check(allocator != nullptr, "arena too small for the allocator")) return 3;
  // Locals, not statics: a static with a destructor would need __dso_handle/atexit (no crt files).
  tflite::MicroInterpreter frame(frame_model, resolver, allocator);
  if (!Check(frame.AllocateTensors() == kTfLiteOk, "frame AllocateTensors (arena too small?)")) return 3;
  const size_t frame_used = frame.arena_used_bytes();
#if TS_DUMP_FRAME < 0
  tflite::MicroAllocator* head_allocator = allocator;
#endif
  tflite::MicroInterpreter head(head_model, resolver, head_allocator);
  if (!Check(head.AllocateTensors() == kTfLiteOk, "head AllocateTensors (arena too small?)")) return 3;
  printf("TS ARENA size=%u used=%u frame_used=%u\n", static_cast<unsigned>(kArenaBytes),
         static_cast<unsigned>(head_allocator == allocator ? head.arena_used_bytes()
                                                           : frame_used + head.arena_used_bytes()),
         static_cast<unsigned>(frame_used));
#if TS_RECORD_ARENA && TS_DUMP_FRAME < 0
  allocator->PrintAllocations();
#endif

  TfLiteTensor* frame_in = frame.input(0);
  TfLiteTensor* frame_out = frame.output(0);
  TfLiteTensor* head_in = head.input(0);
  TfLiteTensor* head_out = head.output(0);
  PrintTensor("frame", "in", frame_in);
  PrintTensor("frame", "out", frame_out);
  PrintTensor("head", "in", head_in);
  PrintTensor("head", "out", head_out);
  if (!Check(frame_in->type == kTfLiteInt8 && frame_out->type == kTfLiteInt8 && head_in->type == kTfLiteInt8 &&
                 head_out->type == kTfLiteInt8, "all model inputs/outputs must be int8") ||
      !Check(Elements(frame_in) == kInputPixels, "frame input size != (kImageSize / binning)^2") ||
      !Check(ZeroPoint(frame_in) == TS_FRONTEND_ZERO_POINT &&
                 __builtin_fabsf(Scale(frame_in) * 255.f - 1.f) < 1e-5f,
             "frame input quantization != the front end's (scale 1/255, zero point -128 raw / 0 diff)") ||
      !Check(Elements(frame_out) == kFeatureDim, "frame output size != kFeatureDim") ||
      !Check(Elements(head_in) == kNumFrames * kFeatureDim, "head input size != kNumFrames * kFeatureDim") ||
      !Check(Elements(head_out) == kNumClasses, "head output size != kNumClasses"))
    return 2;

  g_ring.Reset();
  int stream_frame = 0;
  const uint8_t* prev = nullptr;
  for (int clip = 0; clip < kNumTestClips; ++clip) {
    if (TS_RESET_PER_CLIP) {
      g_ring.Reset();
      prev = nullptr;
    }
    for (int f = 0; f < kTestClipFrames; ++f, ++stream_frame) {
      const uint8_t* cur = g_test_clips[clip][f];

      uint64_t start = platform_ticks();
      frontend(prev, cur, frame_in->data.int8, kImageSize, kImageSize);
      if (!InvokeAndReport('F', "frame", frame_model, frame, stream_frame, clip, f, platform_ticks() - start))
        return 4;
      ToHeadInput(frame_out, head_in, g_feature);
      g_ring.Push(g_feature);
      prev = cur;
      if (!g_ring.Full()) continue;

      start = platform_ticks();
      g_ring.CopyOldestFirst(head_in->data.int8);
      if (!InvokeAndReport('H', "head", head_model, head, stream_frame, clip, f, platform_ticks() - start))
        return 4;
      if (f == kTestClipFrames - 1) {
        int best = 0;
        for (int c = 1; c < kNumClasses; ++c)
          if (head_out->data.int8[c] > head_out->data.int8[best]) best = c;
        printf("TS TOP %d %d %d %d\n", clip, g_test_clip_labels[clip], best, head_out->data.int8[best]);
      }
    }
  }
  printf("TS MEM heap_used=%u heap_size=%u stack_used=%u stack_size=%u\n",
         static_cast<unsigned>(platform_heap_used()), static_cast<unsigned>(platform_heap_size()),
         static_cast<unsigned>(platform_stack_used()), static_cast<unsigned>(platform_stack_size()));
  return 0;
}

}  // namespace

int main() {
  const int status = Run();
  printf("TS END status=%d\n", status);
  fflush(stdout);
  return status;
}
