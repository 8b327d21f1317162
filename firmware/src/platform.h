/* Board layer of the tinysign firmware: what a board implements (qemu/platform_qemu.c for the QEMU
 * models, output over Arm semihosting; on a real board: clock tree, UART retarget of _write(), cycle
 * counter). */
#ifndef TINYSIGN_PLATFORM_H_
#define TINYSIGN_PLATFORM_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Free-running 64-bit tick counter (SysTick at the core clock + overflow interrupt). */
uint64_t platform_ticks(void);

/* Runs a loop of exactly 2 * iterations instructions (subs + bne) and returns the ticks it took:
 * instructions per tick = 2 * iterations / result (under QEMU -icount shift=0, 1 instruction = 1 ns). */
uint64_t platform_calibrate(uint32_t iterations);

/* Bytes of the linker-reserved heap handed out by _sbrk (newlib's stdio buffers) and its size. */
size_t platform_heap_used(void);
size_t platform_heap_size(void);

/* Deepest stack use since reset (the stack region is painted at reset) and the reserved stack size. */
size_t platform_stack_used(void);
size_t platform_stack_size(void);

/* Console output that does not need newlib (safe in fault handlers). */
void platform_puts(const char *s);

#ifdef __cplusplus
}
#endif

#endif /* TINYSIGN_PLATFORM_H_ */
