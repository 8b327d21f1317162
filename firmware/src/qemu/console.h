// The console under QEMU (Arm semihosting stdout): the protocol lines of console_protocol.h, generated from
// tinysign/runtime/firmware/protocol.py, where the Python driver parses them.
#ifndef TINYSIGN_QEMU_CONSOLE_H_
#define TINYSIGN_QEMU_CONSOLE_H_

#include <cstdint>

#include "console_protocol.h"  // generated: TS_FORMAT_<record>

// Unbuffered stdout (newlib then mallocs no stdio buffer, and nothing is lost in a buffer on a crash), and
// tflite-micro's log (MicroPrintf) on it.
void ConsoleInit();

// One protocol line (MicroPrintf, which ends it); the format is checked against the arguments.
void ConsoleLine(const char* format, ...) __attribute__((format(printf, 1, 2)));

// A payload record: the formatted prefix, then the hex of `bytes` raw bytes (two digits per byte, in memory
// order, printed in chunks), then the end of the line.
void ConsoleHexLine(const void* data, int bytes, const char* format, ...) __attribute__((format(printf, 3, 4)));

#endif  // TINYSIGN_QEMU_CONSOLE_H_
