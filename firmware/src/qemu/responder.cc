// The responder under QEMU: every result as a console protocol line (console_protocol.h) for the driver.
#include "responder.h"

#include "console.h"
#include "model_settings.h"
#include "tensorflow/lite/micro/memory_helpers.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

// Every op's output tensor of one model (the dump build keeps every tensor), as raw bytes.
void DumpOps(const char* name, const ModelPart& part, int frame) {
  const auto* ops = part.model->subgraphs()->Get(0)->operators();
  for (unsigned op = 0; op < ops->size(); ++op) {
    const auto* outputs = ops->Get(op)->outputs();
    for (unsigned k = 0; k < outputs->size(); ++k) {
      const int index = outputs->Get(k);
      const TfLiteEvalTensor* t = part.interpreter->GetTensor(index);
      size_t bytes = 0;
      tflite::TfLiteEvalTensorByteLength(t, &bytes);
      ConsoleHexLine(t->data.raw, static_cast<int>(bytes), TS_FORMAT_OP, name, frame, static_cast<int>(op), index);
    }
  }
}

}  // namespace

void RespondToSign(int frame, int label, int32_t score) {
  ConsoleLine(TS_FORMAT_E, frame, label, static_cast<long>(score));
}

void RespondToFrame(const FrameResult& r) {
  ConsoleHexLine(r.features, kFeatureDim, TS_FORMAT_F, r.frame, static_cast<unsigned long>(r.frontend_ticks),
                 static_cast<unsigned long>(r.frame_invoke_ticks));
  if (r.scores != nullptr)
    ConsoleHexLine(r.scores, kNumClasses, TS_FORMAT_H, r.frame, static_cast<unsigned long>(r.head_input_ticks),
                   static_cast<unsigned long>(r.head_invoke_ticks));
  if (TS_DUMP_FRAME >= 0 && r.frame == TS_DUMP_FRAME) {
    DumpOps("frame", FrameModel(), r.frame);
    DumpOps("head", HeadModel(), r.frame);
  }
}
