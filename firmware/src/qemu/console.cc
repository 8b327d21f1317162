#include "console.h"

#include <cstdarg>
#include <cstdio>

#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace {

void Write(const char* s) { fputs(s, stdout); }

}  // namespace

void ConsoleInit() {
  setvbuf(stdout, nullptr, _IONBF, 0);
  RegisterDebugLogCallback(Write);
}

void ConsoleLine(const char* format, ...) {
  va_list args;
  va_start(args, format);
  VMicroPrintf(format, args);
  va_end(args);
}

void ConsoleHexLine(const void* data, int bytes, const char* format, ...) {
  static const char kDigits[] = "0123456789abcdef";
  char chunk[129];
  va_list args;
  va_start(args, format);
  MicroVsnprintf(chunk, sizeof(chunk), format, args);
  va_end(args);
  Write(chunk);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  int len = 0;
  for (int i = 0; i < bytes; ++i) {
    chunk[len++] = kDigits[p[i] >> 4];
    chunk[len++] = kDigits[p[i] & 15];
    if (len >= static_cast<int>(sizeof(chunk)) - 3) {
      chunk[len] = 0;
      Write(chunk);
      len = 0;
    }
  }
  chunk[len++] = '\n';
  chunk[len] = 0;
  Write(chunk);
}
