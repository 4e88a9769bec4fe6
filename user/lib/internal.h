/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvmgen internals shared by its source files; not installed. */
#ifndef VMGEN_LIB_INTERNAL_H
#define VMGEN_LIB_INTERNAL_H

#include <stdint.h>
#include <time.h>

#define VMGEN_EXPORT __attribute__((visibility("default")))

static inline int64_t vmgen_lib_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
