/* Per-frame front end of the tinysign frame model: raw camera frame -> frame-model input (int8).
 *
 * The ONE place to change when the model's input changes. It implements the project's front end
 * (tinysign/data/frontend.py), integer arithmetic on uint8 frames, b = TS_FRONTEND_BINNING:
 *   S      = sum of each b x b block of the frame (an area resize: H x W -> H/b x W/b)
 *   raw  : r = floor((S_t + b*b/2) / (b*b))                           int8 input r - 128
 *   diff : q = sat_int8(floor((S_t - S_{t-1} + b*b/2) / (b*b)))        int8 input q (0 on the first frame)
 *          with a contrast reference R (TS_FRONTEND_CONTRAST_REF > 0) the difference is scaled by the
 *          frame's Q16 gain G = clamp(floor(2^16 R / sum|n S_i - sum S|), 2^15, 2^17):
 *          q = sat_int8(floor(((S_t - S_{t-1}) G + b*b 2^15) / (b*b 2^16)))
 * i.e. the model input quantised with scale 1/255 and zero point -128 (raw) / 0 (diff).
 * Kind, binning and the contrast reference are properties of the model: the generated frontend_config.h
 * sets them. The firmware test checks every int8 output of a stream against the Python runtime, which runs
 * the project's front end (tinysign/data/frontend.py). */
#ifndef TINYSIGN_FRONTEND_H_
#define TINYSIGN_FRONTEND_H_

#include <stddef.h>
#include <stdint.h>

#define TS_FRONTEND_RAW 0
#define TS_FRONTEND_DIFF 1

#include "frontend_config.h" /* generated: TS_FRONTEND_KIND, TS_FRONTEND_BINNING, TS_FRONTEND_CONTRAST_REF */

#ifdef __cplusplus
extern "C" {
#endif

/* Zero point of the int8 model input this front end produces (scale is always 1/255). */
#define TS_FRONTEND_ZERO_POINT (TS_FRONTEND_KIND == TS_FRONTEND_RAW ? -128 : 0)

/* prev: the previous raw frame of the stream (NULL for the first frame after a reset); cur: this raw
 * frame, height x width uint8; out: (height / b) x (width / b) int8 model input. */
void frontend(const uint8_t *prev, const uint8_t *cur, int8_t *out, int height, int width);

#ifdef __cplusplus
}
#endif

#endif /* TINYSIGN_FRONTEND_H_ */
