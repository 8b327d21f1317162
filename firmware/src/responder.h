// What the device does with its results (like detection_responder.h in tflite-micro's person_detection). A
// board shows a sign on a display or drives a pin; under QEMU the responder prints the console protocol
// (qemu/responder.cc).
#ifndef TINYSIGN_RESPONDER_H_
#define TINYSIGN_RESPONDER_H_

#include <cstdint>

#include "main_functions.h"

// The recognizer said a sign: the stream frame, the label index (kLabels[label]) and its score (the window
// sum of q - zero_point; the average probability is score * scale / kSpotWindow).
void RespondToSign(int frame, int label, int32_t score);

// Every processed frame: the models' outputs and what they cost (a board may ignore it).
void RespondToFrame(const FrameResult& result);

#endif  // TINYSIGN_RESPONDER_H_
