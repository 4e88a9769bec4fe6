// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Kernel uevent parsing.  The input comes off a socket and is treated as
 * hostile: every access is bounded by len, every field must be
 * NUL-terminated inside the buffer, every number must be a clean u64.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <vmgen/vmclock.h>
#include <vmgen/vmgenid.h>

#include "vmgen/libvmgen.h"
#include "internal.h"

/* The uevent group kernel messages go to. */
#define UEVENT_GROUP_KERNEL	1
/* Far above the kernel's UEVENT_BUFFER_SIZE (2048). */
#define UEVENT_RECV_MAX		8192

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned int d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned int)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int key_is(const char *k, size_t klen, const char *name)
{
	size_t n = strlen(name);

	return klen == n && memcmp(k, name, n) == 0;
}

/* Copy [s, s+n) into dst[size] with a NUL; ENAMETOOLONG if it won't fit. */
static int copy_field(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size)
		return ENAMETOOLONG;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Printable ASCII without spaces: what actions and device paths are made of. */
static int plain_text(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static int classify(const struct vmgen_uevent *ev)
{
	const char *name = ev->devname;
	const char *slash;
	size_t i;

	if (strcmp(ev->subsystem, "misc") != 0)
		return VMGEN_UEVENT_DEVICE_OTHER;
	if (!name[0]) {
		slash = strrchr(ev->devpath, '/');
		name = slash ? slash + 1 : ev->devpath;
	}
	if (strcmp(name, VMGENID_DEVICE_NAME) == 0)
		return VMGEN_UEVENT_DEVICE_VMGENID;
	if (strncmp(name, "vmclock", 7) == 0 && name[7]) {
		for (i = 7; name[i]; i++)
			if (name[i] < '0' || name[i] > '9')
				return VMGEN_UEVENT_DEVICE_OTHER;
		return VMGEN_UEVENT_DEVICE_VMCLOCK;
	}
	return VMGEN_UEVENT_DEVICE_OTHER;
}

struct numkey {
	const char *name;
	unsigned int bit;
	size_t off;
};

static const struct numkey numkeys[] = {
	{ "SEQNUM", VMGEN_UEVENT_HAVE_SEQNUM,
	  offsetof(struct vmgen_uevent, seqnum) },
	{ VMGEN_VMCLOCK_UEVENT_GENERATION, VMGEN_UEVENT_HAVE_VMCLOCK_GENERATION,
	  offsetof(struct vmgen_uevent, vmclock_generation) },
	{ VMGEN_VMCLOCK_UEVENT_DISRUPTION_MARKER,
	  VMGEN_UEVENT_HAVE_VMCLOCK_MARKER,
	  offsetof(struct vmgen_uevent, vmclock_disruption_marker) },
	{ VMGEN_VMCLOCK_UEVENT_NOTIFY_NS, VMGEN_UEVENT_HAVE_VMCLOCK_NOTIFY_NS,
	  offsetof(struct vmgen_uevent, vmclock_notify_ns) },
	{ VMGENID_UEVENT_GENERATION, VMGEN_UEVENT_HAVE_VMGENID_GENERATION,
	  offsetof(struct vmgen_uevent, vmgenid_generation) },
	{ VMGENID_UEVENT_NOTIFY_NS, VMGEN_UEVENT_HAVE_VMGENID_NOTIFY_NS,
	  offsetof(struct vmgen_uevent, vmgenid_notify_ns) },
};

/* Keys that are strings, for duplicate detection. */
#define SEEN_ACTION	(1u << 0)
#define SEEN_DEVPATH	(1u << 1)
#define SEEN_SUBSYSTEM	(1u << 2)
#define SEEN_DEVNAME	(1u << 3)

static int parse_fields(const char *p, const char *end,
			struct vmgen_uevent *ev, size_t action_len,
			size_t devpath_len)
{
	unsigned int seen = 0;
	size_t i;

	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		const char *eq, *val;
		size_t flen, klen, vlen;
		int known = 0;

		if (!nul)
			return EBADMSG;		/* truncated field */
		flen = (size_t)(nul - p);
		eq = flen ? memchr(p, '=', flen) : NULL;
		if (!eq || eq == p)
			return EBADMSG;
		klen = (size_t)(eq - p);
		val = eq + 1;
		vlen = (size_t)(nul - val);

		if (key_is(p, klen, "ACTION")) {
			if ((seen & SEEN_ACTION) || vlen != action_len ||
			    memcmp(val, ev->action, vlen) != 0)
				return EBADMSG;
			seen |= SEEN_ACTION;
			known = 1;
		} else if (key_is(p, klen, "DEVPATH")) {
			if ((seen & SEEN_DEVPATH) || vlen != devpath_len ||
			    memcmp(val, ev->devpath, vlen) != 0)
				return EBADMSG;
			seen |= SEEN_DEVPATH;
			known = 1;
		} else if (key_is(p, klen, "SUBSYSTEM")) {
			if ((seen & SEEN_SUBSYSTEM) || !plain_text(val, vlen))
				return EBADMSG;
			seen |= SEEN_SUBSYSTEM;
			if (copy_field(ev->subsystem, sizeof(ev->subsystem),
				       val, vlen))
				return ENAMETOOLONG;
			known = 1;
		} else if (key_is(p, klen, "DEVNAME")) {
			if ((seen & SEEN_DEVNAME) || !plain_text(val, vlen))
				return EBADMSG;
			seen |= SEEN_DEVNAME;
			if (copy_field(ev->devname, sizeof(ev->devname),
				       val, vlen))
				return ENAMETOOLONG;
			known = 1;
		} else if (key_is(p, klen, VMGENID_UEVENT_NEW)) {
			if ((ev->have & VMGEN_UEVENT_HAVE_NEW_VMGENID) ||
			    vlen != 1 || val[0] != '1')
				return EBADMSG;
			ev->have |= VMGEN_UEVENT_HAVE_NEW_VMGENID;
			known = 1;
		}
		for (i = 0; !known && i < sizeof(numkeys) / sizeof(numkeys[0]);
		     i++) {
			uint64_t v;

			if (!key_is(p, klen, numkeys[i].name))
				continue;
			if ((ev->have & numkeys[i].bit) ||
			    parse_u64(val, vlen, &v) < 0)
				return EBADMSG;
			memcpy((char *)ev + numkeys[i].off, &v, sizeof(v));
			ev->have |= numkeys[i].bit;
			known = 1;
		}
		p = nul + 1;
	}
	return 0;
}

VMGEN_EXPORT int vmgen_uevent_parse(const void *buf, size_t len,
				    struct vmgen_uevent *ev)
{
	const char *p = buf, *end, *hdr_end, *at;
	size_t action_len, devpath_len;
	int err;

	if (!buf || !ev) {
		errno = EINVAL;
		return -1;
	}
	memset(ev, 0, sizeof(*ev));
	end = p + len;
	/* udevd's re-broadcasts start with "libudev\0" and a binary header */
	if (len >= 8 && memcmp(p, "libudev", 8) == 0) {
		errno = EPROTONOSUPPORT;
		return -1;
	}
	hdr_end = len ? memchr(p, '\0', len) : NULL;
	if (!hdr_end) {
		err = EBADMSG;
		goto fail;
	}
	at = memchr(p, '@', (size_t)(hdr_end - p));
	if (!at) {
		err = EBADMSG;
		goto fail;
	}
	action_len = (size_t)(at - p);
	devpath_len = (size_t)(hdr_end - at - 1);
	if (action_len == 0 || devpath_len == 0 || at[1] != '/' ||
	    !plain_text(p, action_len) || !plain_text(at + 1, devpath_len)) {
		err = EBADMSG;
		goto fail;
	}
	if (copy_field(ev->action, sizeof(ev->action), p, action_len) ||
	    copy_field(ev->devpath, sizeof(ev->devpath), at + 1,
		       devpath_len)) {
		err = ENAMETOOLONG;
		goto fail;
	}
	err = parse_fields(hdr_end + 1, end, ev, action_len, devpath_len);
	if (err)
		goto fail;
	ev->device = classify(ev);
	return 0;
fail:
	memset(ev, 0, sizeof(*ev));
	errno = err;
	return -1;
}

VMGEN_EXPORT int vmgen_uevent_open(void)
{
	struct sockaddr_nl sa;
	int fd, on = 1;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = UEVENT_GROUP_KERNEL;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

VMGEN_EXPORT int vmgen_uevent_receive(int fd, struct vmgen_uevent *ev)
{
	char buf[UEVENT_RECV_MAX];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	union {
		struct sockaddr sa;
		struct sockaddr_nl nl;
		struct sockaddr_storage ss;
	} from;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;

	if (!ev) {
		errno = EINVAL;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	memset(&from, 0, sizeof(from));
	msg.msg_name = &from;
	msg.msg_namelen = sizeof(from);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = &ctl;
	msg.msg_controllen = sizeof(ctl);
	do
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return 0;
	/* only the kernel (port id 0) may speak on the uevent group */
	if (msg.msg_namelen >= sizeof(struct sockaddr_nl) &&
	    from.sa.sa_family == AF_NETLINK && from.nl.nl_pid != 0)
		return 0;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		struct ucred cred;

		if (c->cmsg_level != SOL_SOCKET ||
		    c->cmsg_type != SCM_CREDENTIALS ||
		    c->cmsg_len < CMSG_LEN(sizeof(cred)))
			continue;
		memcpy(&cred, CMSG_DATA(c), sizeof(cred));
		if (cred.uid != 0)
			return 0;
	}
	if (vmgen_uevent_parse(buf, (size_t)n, ev) < 0)
		return 0;
	return ev->device != VMGEN_UEVENT_DEVICE_OTHER;
}
