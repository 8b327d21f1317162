#include "recognizer.h"

#include <cstring>

void Recognizer::Reset(int zero_point) {
  memset(history_, 0, sizeof(history_));
  memset(sums_, 0, sizeof(sums_));
  count_ = next_ = 0;
  previous_ = -1;
  emitted_ = false;
  zero_point_ = zero_point;
}

bool Recognizer::Silent(int label) const {
  for (int i = 0; i < kNumSilentLabels; ++i)
    if (kSilentLabels[i] == label) return true;
  return false;
}

bool Recognizer::Push(int frame, const int8_t* scores, int* label, int32_t* score) {
  for (int c = 0; c < kNumClasses; ++c) {
    if (count_ == kSpotWindow) sums_[c] -= history_[next_][c] - zero_point_;  // the oldest leaves the window
    sums_[c] += scores[c] - zero_point_;
  }
  memcpy(history_[next_], scores, kNumClasses);
  next_ = (next_ + 1) % kSpotWindow;
  if (count_ < kSpotWindow) ++count_;
  if (count_ < kSpotWindow) return false;

  int top = 0;
  for (int c = 1; c < kNumClasses; ++c)
    if (sums_[c] > sums_[top]) top = c;
  if (sums_[top] < kSpotThreshold * kSpotWindow || top == previous_) return false;
  if (Silent(top)) {
    previous_ = top;
    return false;
  }
  if (emitted_ && frame - last_emission_ < kSpotSuppression) return false;
  previous_ = top;
  last_emission_ = frame;
  emitted_ = true;
  *label = top;
  *score = sums_[top];
  return true;
}
