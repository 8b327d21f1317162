#include "main_functions.h"

#include <new>

#include "frame_provider.h"
#include "frontend.h"
#include "model_ops.h"  // generated: kNumModelOps, RegisterModelOps()
#include "model_settings.h"
#include "platform.h"
#include "recognizer.h"
#include "responder.h"
#include "ring_buffer.h"
#include "tensorflow/lite/kernels/internal/tensor_ctypes.h"
#include "tensorflow/lite/micro/micro_allocator.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/recording_micro_allocator.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

#if TS_DUMP_FRAME >= 0
__attribute__((section(".scratch"), aligned(16))) uint8_t g_arena[kArenaBytes];
#else
alignas(16) uint8_t g_arena[kArenaBytes];
#endif

// Objects that live as long as the app, constructed in Setup() into static storage: a static object with a
// destructor would need __cxa_atexit / __dso_handle, which a bare-metal link without crt files does not have.
using OpResolver = tflite::MicroMutableOpResolver<kNumModelOps>;
alignas(OpResolver) uint8_t g_resolver_storage[sizeof(OpResolver)];
alignas(tflite::MicroInterpreter) uint8_t g_frame_storage[sizeof(tflite::MicroInterpreter)];
alignas(tflite::MicroInterpreter) uint8_t g_head_storage[sizeof(tflite::MicroInterpreter)];

ModelPart g_frame = {nullptr, nullptr};
ModelPart g_head = {nullptr, nullptr};
size_t g_frame_used = 0;
bool g_shared_arena = true;
RingBuffer g_ring;
Recognizer g_recognizer;
int8_t g_feature[kFeatureDim];
const uint8_t* g_previous = nullptr;  // the previous camera frame (the diff front end), nullptr at a stream start
int g_frame_number = 0;

int Elements(const TfLiteTensor* t) {
  int n = 1;
  for (int i = 0; i < t->dims->size; ++i) n *= t->dims->data[i];
  return n;
}

// The models must be what model_settings.h and the front end say: int8 in and out, the shapes, the front
// end's input quantization (scale 1/255, zero point -128 raw / 0 diff).
TfLiteStatus CheckModels() {
  const TfLiteTensor* frame_in = g_frame.interpreter->input(0);
  const TfLiteTensor* frame_out = g_frame.interpreter->output(0);
  const TfLiteTensor* head_in = g_head.interpreter->input(0);
  const TfLiteTensor* head_out = g_head.interpreter->output(0);
  const struct {
    bool ok;
    const char* what;
  } checks[] = {
      {frame_in->type == kTfLiteInt8 && frame_out->type == kTfLiteInt8 && head_in->type == kTfLiteInt8 &&
           head_out->type == kTfLiteInt8,
       "all model inputs and outputs must be int8"},
      {Elements(frame_in) == kInputPixels, "frame input size != (kImageSize / binning)^2"},
      {frame_in->params.zero_point == TS_FRONTEND_ZERO_POINT && __builtin_fabsf(frame_in->params.scale * 255.f - 1.f) < 1e-5f,
       "frame input quantization != the front end's (scale 1/255, zero point -128 raw / 0 diff)"},
      {Elements(frame_out) == kFeatureDim, "frame output size != kFeatureDim"},
      {Elements(head_in) == kNumFrames * kFeatureDim, "head input size != kNumFrames * kFeatureDim"},
      {Elements(head_out) == kNumClasses, "head output size != kNumClasses"},
  };
  for (const auto& check : checks) {
    if (!check.ok) {
      MicroPrintf("model check failed: %s", check.what);
      return kTfLiteError;
    }
  }
  return kTfLiteOk;
}

// A feature vector in the head's input quantization (tinysign quantize makes the two equal: then a copy).
// Float math like tinysign.runtime.litert.quantize().
void ToHeadInput(const TfLiteTensor* frame_out, const TfLiteTensor* head_in, int8_t* dst) {
  const int8_t* src = tflite::GetTensorData<int8_t>(frame_out);
  const TfLiteQuantizationParams from = frame_out->params, to = head_in->params;
  if (from.scale == to.scale && from.zero_point == to.zero_point) {
    memcpy(dst, src, kFeatureDim);
    return;
  }
  for (int i = 0; i < kFeatureDim; ++i) {
    const float x = static_cast<float>(src[i] - from.zero_point) * from.scale;
    float q = __builtin_rintf(x / to.scale) + static_cast<float>(to.zero_point);
    q = q < -128.f ? -128.f : (q > 127.f ? 127.f : q);
    dst[i] = static_cast<int8_t>(q);
  }
}

void StartStream() {
  g_ring.Reset();
  g_recognizer.Reset(g_head.interpreter->output(0)->params.zero_point);
  g_previous = nullptr;
}

}  // namespace

TfLiteStatus Setup() {
  g_frame.model = tflite::GetModel(g_streaming_frame_model_data);
  g_head.model = tflite::GetModel(g_streaming_head_model_data);
  if (g_frame.model->version() != TFLITE_SCHEMA_VERSION || g_head.model->version() != TFLITE_SCHEMA_VERSION) {
    MicroPrintf("model schema version != %d", TFLITE_SCHEMA_VERSION);
    return kTfLiteError;
  }
  OpResolver* resolver = new (g_resolver_storage) OpResolver();
  TF_LITE_ENSURE_STATUS(RegisterModelOps(*resolver));

  // One allocator for both interpreters (multi-tenant): they run one after the other, so the head's scratch
  // tensors reuse the frame model's; the persistent parts of both stay.
#if TS_DUMP_FRAME >= 0
  // The linear planner (every tensor kept) is not multi-tenant: one half of the arena per model.
  tflite::MicroAllocator* allocator =
      tflite::MicroAllocator::Create(g_arena, kArenaBytes / 2, tflite::MemoryPlannerType::kLinear);
  tflite::MicroAllocator* head_allocator = tflite::MicroAllocator::Create(
      g_arena + kArenaBytes / 2, kArenaBytes / 2, tflite::MemoryPlannerType::kLinear);
#elif TS_RECORD_ARENA
  tflite::RecordingMicroAllocator* allocator = tflite::RecordingMicroAllocator::Create(g_arena, kArenaBytes);
  tflite::MicroAllocator* head_allocator = allocator;
#else
  tflite::MicroAllocator* allocator = tflite::MicroAllocator::Create(g_arena, kArenaBytes);
  tflite::MicroAllocator* head_allocator = allocator;
#endif
  if (allocator == nullptr || head_allocator == nullptr) {
    MicroPrintf("the arena (%u bytes) is too small for the allocator", static_cast<unsigned>(kArenaBytes));
    return kTfLiteError;
  }
  g_shared_arena = head_allocator == allocator;
  g_frame.interpreter = new (g_frame_storage) tflite::MicroInterpreter(g_frame.model, *resolver, allocator);
  TF_LITE_ENSURE_STATUS(g_frame.interpreter->AllocateTensors());
  g_frame_used = g_frame.interpreter->arena_used_bytes();
  g_head.interpreter = new (g_head_storage) tflite::MicroInterpreter(g_head.model, *resolver, head_allocator);
  TF_LITE_ENSURE_STATUS(g_head.interpreter->AllocateTensors());
#if TS_RECORD_ARENA && TS_DUMP_FRAME < 0
  allocator->PrintAllocations();
#endif
  TF_LITE_ENSURE_STATUS(CheckModels());
  StartStream();
  return kTfLiteOk;
}

TfLiteStatus ProcessFrame() {
  CameraFrame camera;
  TF_LITE_ENSURE_STATUS(GetFrame(&camera));
  if (camera.starts_stream) StartStream();
  tflite::MicroInterpreter& frame = *g_frame.interpreter;
  tflite::MicroInterpreter& head = *g_head.interpreter;
  FrameResult result = {};
  result.frame = g_frame_number++;

  int8_t* frame_input = tflite::GetTensorData<int8_t>(frame.input(0));
  int8_t* head_input = tflite::GetTensorData<int8_t>(head.input(0));
  uint64_t start = platform_ticks();
  frontend(g_previous, camera.pixels, frame_input, kImageSize, kImageSize);
  result.frontend_ticks = platform_ticks() - start;
  start = platform_ticks();
  TF_LITE_ENSURE_STATUS(frame.Invoke());
  result.frame_invoke_ticks = platform_ticks() - start;
  ToHeadInput(frame.output(0), head.input(0), g_feature);
  result.features = g_feature;  // a copy: the head's Invoke() reuses the frame model's tensors (one arena)
  g_ring.Push(g_feature);
  g_previous = camera.pixels;

  if (g_ring.Full()) {
    start = platform_ticks();
    g_ring.CopyOldestFirst(head_input);
    result.head_input_ticks = platform_ticks() - start;
    start = platform_ticks();
    TF_LITE_ENSURE_STATUS(head.Invoke());
    result.head_invoke_ticks = platform_ticks() - start;
    result.scores = tflite::GetTensorData<int8_t>(head.output(0));
    int label;
    int32_t score;
    if (g_recognizer.Push(result.frame, result.scores, &label, &score)) RespondToSign(result.frame, label, score);
  }
  RespondToFrame(result);
  return kTfLiteOk;
}

const ModelPart& FrameModel() { return g_frame; }
const ModelPart& HeadModel() { return g_head; }
size_t ArenaBytes() { return kArenaBytes; }
size_t FrameArenaUsedBytes() { return g_frame_used; }
size_t ArenaUsedBytes() {
  const size_t head = g_head.interpreter->arena_used_bytes();
  return g_shared_arena ? head : g_frame_used + head;
}
