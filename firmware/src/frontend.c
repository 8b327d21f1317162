#include "frontend.h"

#if TS_FRONTEND_BINNING != 1 && TS_FRONTEND_BINNING != 2 && TS_FRONTEND_BINNING != 4
#error "TS_FRONTEND_BINNING must be 1, 2 or 4"
#endif

/* Sum of the b x b block at block row r, block column c. */
static inline int32_t block_sum(const uint8_t *frame, int width, int r, int c) {
  const uint8_t *p = frame + (r * TS_FRONTEND_BINNING) * width + c * TS_FRONTEND_BINNING;
  int32_t s = 0;
  for (int i = 0; i < TS_FRONTEND_BINNING; ++i, p += width)
    for (int j = 0; j < TS_FRONTEND_BINNING; ++j) s += p[j];
  return s;
}

/* floor(a / d) for d > 0 (C division truncates toward zero; Python's // floors). */
static inline int32_t floor_div(int32_t a, int32_t d) {
  int32_t q = a / d;
  return (a % d != 0 && a < 0) ? q - 1 : q;
}

#if TS_FRONTEND_CONTRAST_REF > 0
/* Q16 gain of the frame towards the training frames' contrast: floor(2^16 * R / D), bounded to
 * [2^15, 2^17], unity for a flat frame; D = sum over the n blocks of |n * S_i - sum S|. */
static int32_t contrast_gain(const uint8_t *frame, int width, int rows, int cols) {
  const int64_t n = (int64_t)rows * cols;
  int64_t total = 0, deviation = 0;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) total += block_sum(frame, width, r, c);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const int64_t d = n * block_sum(frame, width, r, c) - total;
      deviation += d < 0 ? -d : d;
    }
  if (deviation == 0) return 1 << 16;
  const int64_t gain = ((int64_t)TS_FRONTEND_CONTRAST_REF << 16) / deviation; /* both > 0: floor */
  return (int32_t)(gain < (1 << 15) ? (1 << 15) : (gain > (1 << 17) ? (1 << 17) : gain));
}
#endif

void frontend(const uint8_t *prev, const uint8_t *cur, int8_t *out, int height, int width) {
  const int32_t area = TS_FRONTEND_BINNING * TS_FRONTEND_BINNING, half = area / 2;
  const int rows = height / TS_FRONTEND_BINNING, cols = width / TS_FRONTEND_BINNING;
#if TS_FRONTEND_KIND == TS_FRONTEND_DIFF && TS_FRONTEND_CONTRAST_REF > 0
  const int32_t gain = contrast_gain(cur, width, rows, cols);
  (void)half;
#endif
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const int32_t s = block_sum(cur, width, r, c);
#if TS_FRONTEND_KIND == TS_FRONTEND_RAW
      (void)prev;
      const int32_t v = (s + half) / area - 128; /* s >= 0: truncation == floor */
#else
      const int32_t s_prev = prev ? block_sum(prev, width, r, c) : s; /* first frame: no motion */
#if TS_FRONTEND_CONTRAST_REF > 0
      /* |s - s_prev| <= 255 b^2 and gain <= 2^17: the product fits in int32 */
      int32_t v = floor_div((s - s_prev) * gain + area * (1 << 15), area * (1 << 16));
#else
      int32_t v = floor_div(s - s_prev + half, area);
#endif
      v = v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
      out[r * cols + c] = (int8_t)v;
    }
  }
}
