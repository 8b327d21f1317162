// The camera, as the app sees it (like image_provider.h in tflite-micro's person_detection): the next raw
// grey frame of kImageSize x kImageSize uint8. A board's provider returns its camera's frame buffer; it must
// keep the previous frame valid until the next call (the diff front end reads it). Under QEMU the provider
// plays a test stream (qemu/frame_provider.cc).
#ifndef TINYSIGN_FRAME_PROVIDER_H_
#define TINYSIGN_FRAME_PROVIDER_H_

#include <cstdint>

#include "tensorflow/lite/c/common.h"

struct CameraFrame {
  const uint8_t* pixels;  // kImageSize * kImageSize, row-major
  bool starts_stream;     // the first frame of a new stream (after a gap): the app resets its state
};

TfLiteStatus GetFrame(CameraFrame* frame);

#endif  // TINYSIGN_FRAME_PROVIDER_H_
