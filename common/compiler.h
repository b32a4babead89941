/*
 * Small compiler helpers shared by every layer of ioreqd.
 */
#ifndef IOREQD_COMPILER_H
#define IOREQD_COMPILER_H

#include <stddef.h>

#define must_check                      __attribute__((warn_unused_result))
#define printf_like(fmt, args)          __attribute__((format(printf, fmt, args)))
#define ARRAY_SIZE(a)                   (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
