// The last kNumFrames feature vectors, as on a device: a circular write index, no shifting.
#ifndef TINYSIGN_RING_BUFFER_H_
#define TINYSIGN_RING_BUFFER_H_

#include <cstdint>
#include <cstring>

#include "model_settings.h"

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

#endif  // TINYSIGN_RING_BUFFER_H_
