/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest side of the vmgen test rig's control protocol (docs/rig-protocol.md).
 *
 * A request is one line "<id> <words...>" written to the virtio-serial port
 * named "vmgen.ctl"; the host answers "<id> ok [key=value ...]" or
 * "<id> err <message>" on the same port.
 */
#ifndef VMGEN_RIGCTL_H
#define VMGEN_RIGCTL_H

#include <stddef.h>

/* Returned by rigctl() when the guest is not running under the rig. */
#define RIGCTL_UNAVAILABLE (-2)

/* How long rigctl() waits for the host's answer. */
#define RIGCTL_TIMEOUT_MS 120000

/*
 * Overrides the port lookup with a device path (a pty, for trying the
 * client without the rig).
 */
#define RIGCTL_DEV_ENV "VMGEN_RIGCTL_DEV"

/*
 * Sends "<id> <formatted words>" and waits for the matching reply.
 * Returns 0 on "ok", -1 on "err" or a transport failure, RIGCTL_UNAVAILABLE
 * when there is no control port. When reply is not NULL it receives the
 * answer without its id ("ok key=value ...", "err message") or a
 * description of the transport failure.
 *
 * Opens the port for each call: a forked child never shares an open port
 * with its parent, and the kernel allows one opener per port at a time.
 */
int rigctl(char *reply, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* 1 when the control port exists, else 0. */
int rigctl_available(void);

/*
 * Parses "key=value" (value decimal or 0x-hex) out of a reply.
 * Returns 0 on success, -1 when the key is missing or not a number.
 */
int rigctl_get_u64(const char *reply, const char *key, unsigned long long *val);

#endif /* VMGEN_RIGCTL_H */
