/* Startup + board layer for the QEMU models (compiled with gcc, not g++).
 *
 * Vector table at the start of FLASH (QEMU boots from address 0 on mps2-an386 / mps2-an500; on
 * mps2-an505 and mps3-an547 the core resets in Secure state and the Secure VTOR resets to 0x10000000, the
 * Secure alias of the code memory at 0), a reset handler that enables the FPU (and MVE on the M55), copies
 * .data, zeroes .bss, paints the stack, starts SysTick and calls newlib's initialise_monitor_handles()
 * (semihosting stdio), __libc_init_array() and main(). The device header is the board's CMSIS one
 * (TS_DEVICE_HEADER: ARMCM4.h, ARMCM33.h, ARMCM7.h, ARMCM55.h).
 *
 * Port to a real board: keep the vector table / .data / .bss / FPU code; set up the clock tree (PLL)
 * before main; replace semihosting (rdimon.specs) by nosys.specs + a _write() that sends to a UART;
 * exit() becomes a loop. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include TS_DEVICE_HEADER /* CMSIS device header (SCB, SysTick, __DSB ...) */
#include "platform.h"

/* ---- linker symbols (see linker/sections.ld) */
extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint8_t __heap_start__[], __heap_end__[], __stack_limit__[], __StackTop[];

extern int main(void);
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);

void _init(void) {}
void _fini(void) {}

/* ---- semihosting without newlib: SYS_WRITE0 / SYS_EXIT (for faults) */
static inline int semihost(int op, void *arg) {
  register int r0 __asm__("r0") = op;
  register void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void platform_puts(const char *s) { semihost(0x04 /* SYS_WRITE0 */, (void *)s); }

static void put_hex(const char *label, uint32_t v) {
  char buf[24];
  static const char digits[] = "0123456789abcdef";
  size_t n = strlen(label);
  memcpy(buf, label, n);
  for (int i = 7; i >= 0; --i) buf[n++] = digits[(v >> (4 * i)) & 0xf];
  buf[n++] = ' ';
  buf[n] = 0;
  platform_puts(buf);
}

/* Any fault: print the fault registers and the stacked PC, then leave QEMU with a failure. */
void Fault_Handler(void) {
  uint32_t *sp;
  __asm__ volatile("mrs %0, msp" : "=r"(sp));
  platform_puts("\nTS FAULT ");
  put_hex("ipsr=", __get_IPSR());
  put_hex("cfsr=", SCB->CFSR);
  put_hex("hfsr=", SCB->HFSR);
  put_hex("mmfar=", SCB->MMFAR);
  put_hex("bfar=", SCB->BFAR);
  put_hex("pc~", sp[6 + 2]); /* approx.: handler prologue may have pushed 2 words */
  platform_puts("\n");
  /* AArch32 SYS_EXIT takes the reason in r1: anything but ADP_Stopped_ApplicationExit = failure. */
  for (;;) semihost(0x18 /* SYS_EXIT */, (void *)0x20024 /* ADP_Stopped_RunTimeErrorUnknown */);
}

/* ---- SysTick: 24-bit down counter at the core clock, overflow counted in the interrupt */
static volatile uint32_t systick_wraps;
void SysTick_Handler(void) { systick_wraps++; }

uint64_t platform_ticks(void) {
  uint32_t hi, val;
  do {
    hi = systick_wraps;
    val = SysTick->VAL;
  } while (hi != systick_wraps);
  return (uint64_t)hi * (SysTick_LOAD_RELOAD_Msk + 1ULL) + (SysTick_LOAD_RELOAD_Msk - val);
}

uint64_t platform_calibrate(uint32_t iterations) {
  uint64_t t0 = platform_ticks();
  __asm__ volatile(
      "1: subs %0, %0, #1\n"
      "   bne 1b\n"
      : "+r"(iterations)::"cc");
  return platform_ticks() - t0;
}

/* ---- heap: newlib's malloc (stdio buffers) gets the linker-reserved [__heap_start__, __heap_end__) */
static uint8_t *heap_top = __heap_start__;

void *_sbrk(ptrdiff_t incr) {
  if (heap_top + incr > __heap_end__ || heap_top + incr < __heap_start__) {
    errno = ENOMEM;
    return (void *)-1;
  }
  uint8_t *prev = heap_top;
  heap_top += incr;
  return prev;
}

size_t platform_heap_used(void) { return (size_t)(heap_top - __heap_start__); }
size_t platform_heap_size(void) { return (size_t)(__heap_end__ - __heap_start__); }

/* ---- stack high-water mark */
#define STACK_PAINT 0xA5A5A5A5u

size_t platform_stack_used(void) {
  const uint32_t *p = (const uint32_t *)__stack_limit__;
  while (p < (const uint32_t *)__StackTop && *p == STACK_PAINT) ++p;
  return (size_t)((const uint8_t *)__StackTop - (const uint8_t *)p);
}
size_t platform_stack_size(void) { return (size_t)(__StackTop - __stack_limit__); }

/* ---- reset */
__attribute__((noreturn, used)) void Reset_Handler(void) {
  /* FPU (and MVE on Cortex-M55): full access to CP10/CP11 before any floating-point/vector code. The
   * .data/.bss loops below are plain C the compiler may vectorise, so this comes first. */
  SCB->CPACR |= (3UL << 20) | (3UL << 22);
  __DSB();
  __ISB();

  for (uint32_t *src = &__data_load__, *dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
  for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
  {
    volatile uint32_t *p = (volatile uint32_t *)__stack_limit__; /* volatile: no memset call here */
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    while (p < sp - 16) *p++ = STACK_PAINT; /* leave this frame's words alone */
  }

  SysTick->LOAD = SysTick_LOAD_RELOAD_Msk;
  SysTick->VAL = 0;
  SysTick->CTRL = SysTick_CTRL_CLKSOURCE_Msk | SysTick_CTRL_TICKINT_Msk | SysTick_CTRL_ENABLE_Msk;

  initialise_monitor_handles();
  __libc_init_array();
  exit(main());
}

/* ---- vector table (first word: initial SP; QEMU loads SP and PC from it at reset) */
typedef void (*vector_t)(void);
__attribute__((section(".isr_vector"), used)) const vector_t g_vectors[16] = {
    (vector_t)__StackTop, Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    Fault_Handler, /* SecureFault (v8-M) */
    0, 0, 0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMonitor */
    0,
    Fault_Handler, /* PendSV */
    SysTick_Handler,
};
