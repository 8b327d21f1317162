// The recognizer: the head's per-frame scores -> a sign said once when it is signed, silence otherwise.
//
// The same arithmetic as tinysign/runtime/recognizer.py, in integers (like micro_speech's RecognizeCommands):
// a class's score counts as q - zero_point of the head's int8 output; the scores of the last kSpotWindow
// frames are summed (int32). Once the window is full, the class with the largest sum (the first on a tie) is
// said when its sum >= kSpotThreshold * kSpotWindow, it differs from the previous top class that passed the
// threshold, it is not silent (rest, unknown: kSilentLabels) and at least kSpotSuppression frames have
// passed since the last emission. A silent class that passes the threshold becomes the previous top class.
#ifndef TINYSIGN_RECOGNIZER_H_
#define TINYSIGN_RECOGNIZER_H_

#include <cstdint>

#include "model_settings.h"

class Recognizer {
 public:
  // A new stream; zero_point is the head output's.
  void Reset(int zero_point);
  // The head's int8 output for stream frame `frame`. True when a sign is said: its label and its score
  // (the window sum, in q - zero_point units).
  bool Push(int frame, const int8_t* scores, int* label, int32_t* score);

 private:
  bool Silent(int label) const;

  int8_t history_[kSpotWindow][kNumClasses];  // the window's raw scores, circular
  int32_t sums_[kNumClasses];
  int count_ = 0;          // frames in the window (saturates at kSpotWindow)
  int next_ = 0;           // slot of the next frame == the oldest one once full
  int previous_ = -1;      // the last top class that passed the threshold
  int last_emission_ = 0;  // stream frame of the last emission (valid when emitted_)
  bool emitted_ = false;
  int zero_point_ = 0;
};

#endif  // TINYSIGN_RECOGNIZER_H_
