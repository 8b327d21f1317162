// The tinysign device app: Setup() once, then ProcessFrame() for every camera frame (like setup() / loop()
// in tflite-micro's person_detection).
//
// Per frame: the front end turns the camera frame into the frame model's int8 input; the frame model's
// feature vector goes into a ring buffer of the last kNumFrames vectors; once it is full, the head scores the
// buffer (oldest first) and the recognizer decides whether a sign was said. A board supplies the frame
// provider (its camera), the responder (what to do with a sign) and the platform layer (ticks); under QEMU
// they come from firmware/src/qemu/, which also prints everything for the Python driver.
#ifndef TINYSIGN_MAIN_FUNCTIONS_H_
#define TINYSIGN_MAIN_FUNCTIONS_H_

#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_interpreter.h"

// One model of the pair as the app runs it.
struct ModelPart {
  const tflite::Model* model;
  tflite::MicroInterpreter* interpreter;
};

// What ProcessFrame() did with one frame, and the platform ticks each step took.
struct FrameResult {
  int frame;                    // stream frame index since Setup()
  const int8_t* features;       // the frame model's output in the head's input quantization, kFeatureDim
  const int8_t* scores;         // the head's output, kNumClasses values; nullptr until the ring buffer is full
  uint64_t frontend_ticks;      // the front end
  uint64_t frame_invoke_ticks;  // the frame model's Invoke()
  uint64_t head_input_ticks;    // ring buffer -> the head's input
  uint64_t head_invoke_ticks;   // the head's Invoke()
};

// Loads both models into one tensor arena and checks them against model_settings.h.
TfLiteStatus Setup();

// Takes the next camera frame (frame_provider.h) through front end, frame model, ring buffer, head and
// recognizer; tells the responder (responder.h).
TfLiteStatus ProcessFrame();

// For a harness: the two models (tensors, op dumps) and the arena.
const ModelPart& FrameModel();
const ModelPart& HeadModel();
size_t ArenaBytes();
size_t ArenaUsedBytes();       // both models
size_t FrameArenaUsedBytes();  // the frame model alone

#endif  // TINYSIGN_MAIN_FUNCTIONS_H_
