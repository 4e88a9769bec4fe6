// SPDX-License-Identifier: LGPL-2.1-or-later
/* vmgen_vmgenid: /dev/vmgenid holds a 64-bit generation and can be polled. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmgen/vmgenid.h>

#include "vmgen/libvmgen.h"
#include "internal.h"

_Static_assert(VMGENID_READ_SIZE == sizeof(uint64_t), "vmgenid read size");

struct vmgen_vmgenid {
	int fd;
	int is_file;
};

VMGEN_EXPORT struct vmgen_vmgenid *vmgen_vmgenid_open(const char *path)
{
	struct vmgen_vmgenid *vg;
	struct stat st;
	int e;

	if (!path)
		path = VMGEN_VMGENID_DEFAULT_PATH;
	vg = calloc(1, sizeof(*vg));
	if (!vg)
		return NULL;
	vg->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (vg->fd < 0)
		goto fail;
	if (fstat(vg->fd, &st) < 0)
		goto fail;
	if (S_ISREG(st.st_mode)) {
		vg->is_file = 1;
	} else if (!S_ISCHR(st.st_mode)) {
		errno = ENODEV;
		goto fail;
	}
	return vg;
fail:
	e = errno;
	if (vg->fd >= 0)
		close(vg->fd);
	free(vg);
	errno = e;
	return NULL;
}

VMGEN_EXPORT void vmgen_vmgenid_close(struct vmgen_vmgenid *vg)
{
	int e = errno;

	if (!vg)
		return;
	if (vg->fd >= 0)
		close(vg->fd);
	free(vg);
	errno = e;
}

VMGEN_EXPORT int vmgen_vmgenid_fd(const struct vmgen_vmgenid *vg)
{
	return vg ? vg->fd : -1;
}

VMGEN_EXPORT int vmgen_vmgenid_read(struct vmgen_vmgenid *vg,
				    uint64_t *generation)
{
	uint64_t v;
	ssize_t n;

	if (!vg || !generation) {
		errno = EINVAL;
		return -1;
	}
	do
		n = pread(vg->fd, &v, sizeof(v), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ESPIPE) {
		/* a stream device: plain read() returns the value each time */
		do
			n = read(vg->fd, &v, sizeof(v));
		while (n < 0 && errno == EINTR);
	}
	if (n < 0)
		return -1;
	if (n != (ssize_t)sizeof(v)) {
		errno = EPROTO;
		return -1;
	}
	*generation = v;
	return 0;
}

VMGEN_EXPORT int vmgen_vmgenid_wait(struct vmgen_vmgenid *vg, int timeout_ms)
{
	struct pollfd p;
	int r;

	if (!vg) {
		errno = EINVAL;
		return -1;
	}
	if (vg->is_file) {
		errno = EOPNOTSUPP;
		return -1;
	}
	p.fd = vg->fd;
	p.events = POLLIN;
	p.revents = 0;
	r = poll(&p, 1, timeout_ms);
	if (r <= 0)
		return r;
	if (p.revents & POLLHUP) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (p.revents & (POLLERR | POLLNVAL)) {
		errno = EIO;
		return -1;
	}
	return 1;
}
