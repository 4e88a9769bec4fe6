// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of libvmgen (page reader, VMGenID file, uevent parser and
 * receiver) and of the pieces vmgend is built from (classification, state
 * format, number parsing, hook naming and order).  Prints "ok - ..." /
 * "not ok - ..." lines; tests/run.sh numbers them.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmgen/vmclock-abi.h>

#include "common.h"

static int failures;

static void result(int ok, const char *fmt, ...) PRINTF(2, 3);
static void result(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		failures++;
}

/* ---- VMClock page ---- */

static union {
	struct vmclock_abi abi;
	unsigned char raw[4096];
	uint64_t align;
} page;

static void page_init(uint64_t flags, uint64_t gen, uint64_t marker)
{
	memset(&page, 0, sizeof(page));
	page.abi.magic = htole32(VMCLOCK_MAGIC);
	page.abi.size = htole32(4096);
	page.abi.version = htole16(1);
	page.abi.seq_count = htole32(4);
	page.abi.flags = htole64(flags);
	page.abi.vm_generation_counter = htole64(gen);
	page.abi.disruption_marker = htole64(marker);
}

#define GENF	VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT
#define NOTF	VMCLOCK_FLAG_NOTIFICATION_PRESENT

static void test_page(void)
{
	struct vmgen_vmclock_counters c;
	int64_t t0;
	int r;

	page_init(GENF | NOTF, 7, 9);
	r = vmgen_vmclock_parse(page.raw, sizeof(page.raw), &c);
	result(r == 0 && c.generation == 7 && c.disruption_marker == 9 &&
	       (c.have & VMGEN_HAVE_GENERATION) &&
	       (c.have & VMGEN_HAVE_NOTIFICATION_FLAG) && c.seq_count == 4,
	       "page: counters read from a valid page");

	page_init(0, 7, 9);
	r = vmgen_vmclock_parse(page.raw, sizeof(page.raw), &c);
	result(r == 0 && c.generation == 0 && c.disruption_marker == 9 &&
	       !(c.have & VMGEN_HAVE_GENERATION),
	       "page: no VM_GEN_COUNTER_PRESENT: generation not reported");

	page_init(GENF, 7, 9);
	page.abi.size = htole32(0x68);
	r = vmgen_vmclock_parse(page.raw, sizeof(page.raw), &c);
	result(r == 0 && !(c.have & VMGEN_HAVE_GENERATION),
	       "page: size too small for vm_generation_counter: absent");

	page_init(GENF, 7, 9);
	r = vmgen_vmclock_parse(page.raw, 0x68, &c);
	result(r == 0 && !(c.have & VMGEN_HAVE_GENERATION),
	       "page: mapping too short for vm_generation_counter: absent");

	page_init(GENF, 7, 9);
	page.abi.magic = htole32(0x12345678);
	errno = 0;
	r = vmgen_vmclock_parse(page.raw, sizeof(page.raw), &c);
	result(r < 0 && errno == EPROTO, "page: bad magic is EPROTO");

	page_init(GENF, 7, 9);
	page.abi.version = htole16(2);
	errno = 0;
	r = vmgen_vmclock_parse(page.raw, sizeof(page.raw), &c);
	result(r < 0 && errno == EPROTO, "page: version 2 is EPROTO");

	page_init(GENF, 7, 9);
	page.abi.seq_count = htole32(5);
	errno = 0;
	t0 = now_ns();
	r = vmgen_vmclock_parse(page.raw, sizeof(page.raw), &c);
	result(r < 0 && errno == ETIMEDOUT &&
	       now_ns() - t0 < 5 * NSEC_PER_SEC,
	       "page: seq_count stuck odd gives ETIMEDOUT (bounded)");

	errno = 0;
	r = vmgen_vmclock_parse(page.raw, 8, &c);
	result(r < 0 && errno == EINVAL, "page: short buffer is EINVAL");
	errno = 0;
	r = vmgen_vmclock_parse(NULL, 4096, &c);
	result(r < 0 && errno == EINVAL, "page: NULL is EINVAL");
}

static void test_files(const char *dir)
{
	struct vmgen_vmclock_counters c = { 0 };
	struct vmgen_vmclock *vc;
	struct vmgen_vmgenid *vg;
	char path[512];
	uint64_t g = 0, v = 42;
	int fd, r;

	fmt_str(path, sizeof(path), "%s/page", dir);
	page_init(GENF | NOTF, 3, 4);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	r = fd >= 0 && write(fd, page.raw, sizeof(page.raw)) ==
		       (ssize_t)sizeof(page.raw);
	if (fd >= 0)
		close(fd);
	vc = r ? vmgen_vmclock_open(path) : NULL;
	result(vc && vmgen_vmclock_read(vc, &c) == 0 && c.generation == 3 &&
	       c.disruption_marker == 4, "vmclock: open and read a page file");
	result(vc && vmgen_vmclock_can_notify(vc) == 0,
	       "vmclock: a regular file cannot notify");
	{
		struct vmgen_vmclock_counters last = c;

		last.generation = 2;
		result(vc && vmgen_vmclock_wait_change(vc, &last, 0) == 1 &&
		       last.generation == 3,
		       "vmclock: wait_change returns at once on a difference");
		errno = 0;
		result(vc && vmgen_vmclock_wait_change(vc, &last, 10) < 0 &&
		       errno == EOPNOTSUPP,
		       "vmclock: wait_change on a file without change is "
		       "EOPNOTSUPP");
	}
	errno = 0;
	result(vc && vmgen_vmclock_wait(vc, 0) < 0 && errno == EOPNOTSUPP,
	       "vmclock: waiting on a regular file is EOPNOTSUPP");
	vmgen_vmclock_close(vc);

	fmt_str(path, sizeof(path), "%s/short", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, page.raw, 16) != 16)
			result(0, "write short file");
		close(fd);
	}
	errno = 0;
	vc = vmgen_vmclock_open(path);
	result(!vc && errno == EPROTO, "vmclock: a 16-byte file is EPROTO");
	vmgen_vmclock_close(vc);

	errno = 0;
	vc = vmgen_vmclock_open("/nonexistent/vmclock0");
	result(!vc && errno == ENOENT, "vmclock: missing device is ENOENT");

	fmt_str(path, sizeof(path), "%s/vmgenid", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
			result(0, "write vmgenid file");
		close(fd);
	}
	vg = vmgen_vmgenid_open(path);
	result(vg && vmgen_vmgenid_read(vg, &g) == 0 && g == 42,
	       "vmgenid: open and read an 8-byte file");
	errno = 0;
	result(vg && vmgen_vmgenid_wait(vg, 0) < 0 && errno == EOPNOTSUPP,
	       "vmgenid: waiting on a regular file is EOPNOTSUPP");
	vmgen_vmgenid_close(vg);
}

/* ---- uevents ---- */

/* Build "a\0b\0c\0" from "a|b|c|" ('|' marks each NUL). */
static size_t msg(char *out, size_t size, const char *spec)
{
	size_t n = strlen(spec), i;

	if (n > size)
		n = size;
	for (i = 0; i < n; i++)
		out[i] = spec[i] == '|' ? '\0' : spec[i];
	return n;
}

/* Parse exactly n bytes from a heap copy, so ASan sees any over-read. */
static int parse_exact(const char *buf, size_t n, struct vmgen_uevent *ev)
{
	char *copy = malloc(n ? n : 1);
	int r, e;

	if (!copy)
		abort();
	memcpy(copy, buf, n);
	r = vmgen_uevent_parse(copy, n, ev);
	e = errno;
	free(copy);
	errno = e;
	return r;
}

static int parse_spec(const char *spec, struct vmgen_uevent *ev)
{
	char buf[2048];

	return parse_exact(buf, msg(buf, sizeof(buf), spec), ev);
}

static int zeroed(const struct vmgen_uevent *ev)
{
	static const struct vmgen_uevent zero;

	return !memcmp(ev, &zero, sizeof(zero));
}

static void bad(const char *spec, int err, const char *what)
{
	struct vmgen_uevent ev;
	int r;

	memset(&ev, 0xaa, sizeof(ev));
	errno = 0;
	r = parse_spec(spec, &ev);
	result(r < 0 && errno == err && zeroed(&ev),
	       "uevent: %s is rejected (%s), result zeroed", what,
	       strerror(err));
}

static void test_uevent(void)
{
	struct vmgen_uevent ev;
	char big[1024];
	int r, i;

	r = parse_spec("change@/devices/virtual/misc/vmgenid|ACTION=change|"
		       "DEVPATH=/devices/virtual/misc/vmgenid|SUBSYSTEM=misc|"
		       "MAJOR=10|MINOR=123|DEVNAME=vmgenid|SEQNUM=4711|"
		       "NEW_VMGENID=1|VMGENID_GENERATION=3|"
		       "VMGENID_NOTIFY_NS=123456789|", &ev);
	result(r == 0 && !strcmp(ev.action, "change") &&
	       !strcmp(ev.devpath, "/devices/virtual/misc/vmgenid") &&
	       !strcmp(ev.subsystem, "misc") && !strcmp(ev.devname, "vmgenid") &&
	       ev.device == VMGEN_UEVENT_DEVICE_VMGENID &&
	       ev.seqnum == 4711 && ev.vmgenid_generation == 3 &&
	       ev.vmgenid_notify_ns == 123456789 &&
	       (ev.have & VMGEN_UEVENT_HAVE_NEW_VMGENID) &&
	       (ev.have & VMGEN_UEVENT_HAVE_VMGENID_GENERATION) &&
	       !(ev.have & VMGEN_UEVENT_HAVE_VMCLOCK_GENERATION),
	       "uevent: vmgenid change parsed");

	r = parse_spec("change@/devices/LNXSYSTM:00/misc/vmclock0|"
		       "ACTION=change|SUBSYSTEM=misc|DEVNAME=vmclock0|"
		       "VMCLOCK_GENERATION=2|VMCLOCK_DISRUPTION_MARKER=5|"
		       "VMCLOCK_NOTIFY_NS=18446744073709551615|", &ev);
	result(r == 0 && ev.device == VMGEN_UEVENT_DEVICE_VMCLOCK &&
	       ev.vmclock_generation == 2 && ev.vmclock_disruption_marker == 5 &&
	       ev.vmclock_notify_ns == UINT64_MAX &&
	       (ev.have & VMGEN_UEVENT_HAVE_VMCLOCK_MARKER),
	       "uevent: vmclock change parsed, u64 max accepted");

	r = parse_spec("change@/devices/virtual/misc/vmclock12|"
		       "SUBSYSTEM=misc|", &ev);
	result(r == 0 && ev.device == VMGEN_UEVENT_DEVICE_VMCLOCK,
	       "uevent: device named from DEVPATH when DEVNAME is absent");
	r = parse_spec("change@/devices/virtual/misc/vmclockx|"
		       "SUBSYSTEM=misc|", &ev);
	result(r == 0 && ev.device == VMGEN_UEVENT_DEVICE_OTHER,
	       "uevent: vmclockx is not a vmclock device");
	r = parse_spec("change@/devices/virtual/net/vmgenid|SUBSYSTEM=net|"
		       "DEVNAME=vmgenid|VMGENID_GENERATION=1|", &ev);
	result(r == 0 && ev.device == VMGEN_UEVENT_DEVICE_OTHER,
	       "uevent: not misc: not a vmgen device");
	r = parse_spec("add@/devices/pci0000:00/0000:00:01.0|"
		       "SUBSYSTEM=pci|FOO=bar=baz|EMPTY=|", &ev);
	result(r == 0 && ev.device == VMGEN_UEVENT_DEVICE_OTHER && !ev.have,
	       "uevent: unrelated uevent parses, unknown keys ignored");
	/* a header and no fields */
	r = parse_spec("remove@/devices/x|", &ev);
	result(r == 0 && !strcmp(ev.action, "remove"),
	       "uevent: header only");

	bad("", EBADMSG, "an empty buffer");
	bad("change@/devices/x", EBADMSG, "a header without NUL");
	bad("change/devices/x|", EBADMSG, "a header without '@'");
	bad("@/devices/x|", EBADMSG, "an empty action");
	bad("change@|", EBADMSG, "an empty devpath");
	bad("change@devices|", EBADMSG, "a relative devpath");
	bad("ch ange@/devices/x|", EBADMSG, "a space in the action");
	bad("change@/devices/x|SUBSYSTEM=misc", EBADMSG,
	    "a truncated last field");
	bad("change@/devices/x|SUBSYSTEM|", EBADMSG, "a field without '='");
	bad("change@/devices/x|=misc|", EBADMSG, "an empty key");
	bad("change@/devices/x||SUBSYSTEM=misc|", EBADMSG, "an empty field");
	bad("change@/devices/x|ACTION=add|", EBADMSG,
	    "ACTION contradicting the header");
	bad("change@/devices/x|DEVPATH=/devices/y|", EBADMSG,
	    "DEVPATH contradicting the header");
	bad("change@/devices/x|ACTION=change|ACTION=change|", EBADMSG,
	    "ACTION twice");
	bad("change@/devices/x|VMGENID_GENERATION=1|VMGENID_GENERATION=2|",
	    EBADMSG, "a vmgen key twice");
	bad("change@/devices/x|SUBSYSTEM=misc|SUBSYSTEM=net|", EBADMSG,
	    "SUBSYSTEM twice");
	bad("change@/devices/x|VMGENID_GENERATION=12a|", EBADMSG,
	    "a number with junk");
	bad("change@/devices/x|VMGENID_GENERATION=|", EBADMSG,
	    "an empty number");
	bad("change@/devices/x|VMGENID_GENERATION=-1|", EBADMSG,
	    "a negative number");
	bad("change@/devices/x|VMCLOCK_GENERATION=18446744073709551616|",
	    EBADMSG, "a number over 2^64-1");
	bad("change@/devices/x|VMCLOCK_GENERATION=000000000000000000001|",
	    EBADMSG, "a number with 21 digits");
	bad("change@/devices/x|NEW_VMGENID=2|", EBADMSG, "NEW_VMGENID=2");
	bad("change@/devices/x|DEVNAME=vm genid|", EBADMSG,
	    "a space in DEVNAME");
	bad("libudev|\xfe\xed\xca\xfe", EPROTONOSUPPORT, "a udev message");

	/* 300-byte devpath: longer than struct vmgen_uevent holds */
	i = 0;
	i += snprintf(big, sizeof(big), "change@/");
	memset(big + i, 'a', 300);
	i += 300;
	big[i++] = '\0';
	errno = 0;
	r = parse_exact(big, (size_t)i, &ev);
	result(r < 0 && errno == ENAMETOOLONG, "uevent: overlong devpath is "
	       "ENAMETOOLONG");

	errno = 0;
	result(vmgen_uevent_parse(NULL, 10, &ev) < 0 && errno == EINVAL,
	       "uevent: NULL buffer is EINVAL");

	/* every truncation of a good message: never crashes, never reads past */
	{
		char good[512];
		size_t n = msg(good, sizeof(good),
			       "change@/devices/virtual/misc/vmgenid|"
			       "SUBSYSTEM=misc|DEVNAME=vmgenid|"
			       "VMGENID_GENERATION=3|");
		size_t k;
		int ok = 1;

		for (k = 0; k <= n; k++) {
			r = parse_exact(good, k, &ev);
			/* only cuts right after a NUL can be valid */
			if (r == 0 && k && good[k - 1] != '\0')
				ok = 0;
		}
		result(ok, "uevent: every truncation handled");
	}
}

static void test_receive(void)
{
	struct vmgen_uevent ev;
	char buf[256];
	size_t n;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) {
		result(0, "socketpair: %s", strerror(errno));
		return;
	}
	result(vmgen_uevent_receive(sv[1], &ev) == 0,
	       "receive: nothing pending returns 0");
	n = msg(buf, sizeof(buf), "change@/devices/virtual/misc/vmgenid|"
		"SUBSYSTEM=misc|DEVNAME=vmgenid|VMGENID_GENERATION=9|");
	if (send(sv[0], buf, n, 0) < 0)
		result(0, "send");
	r = vmgen_uevent_receive(sv[1], &ev);
	result(r == 1 && ev.vmgenid_generation == 9,
	       "receive: a vmgenid uevent returns 1");
	if (send(sv[0], "garbage", 7, 0) < 0)
		result(0, "send");
	result(vmgen_uevent_receive(sv[1], &ev) == 0,
	       "receive: a malformed message is dropped");
	n = msg(buf, sizeof(buf), "add@/devices/x|SUBSYSTEM=pci|");
	if (send(sv[0], buf, n, 0) < 0)
		result(0, "send");
	result(vmgen_uevent_receive(sv[1], &ev) == 0,
	       "receive: another device's uevent returns 0");
	close(sv[0]);
	close(sv[1]);

	sv[0] = vmgen_uevent_open();
	if (sv[0] < 0) {
		printf("ok - # SKIP receive: no uevent netlink socket here "
		       "(%s)\n", strerror(errno));
		return;
	}
	r = vmgen_uevent_receive(sv[0], &ev);
	result(r == 0 || r == 1, "receive: the kernel uevent socket opens "
	       "and reads (%d)", r);
	close(sv[0]);
}

/* ---- daemon pieces ---- */

static void test_classify(void)
{
	struct counters o = { CNT_VMCLOCK_GEN | CNT_MARKER | CNT_GEN_FLAG |
			      CNT_VMGENID, 1, 1, 1 };
	struct counters c = o;
	const char *e;

	result(counters_event(&o, &c) == NULL, "classify: no change");
	c.vmclock_gen = 2;
	c.marker = 2;
	e = counters_event(&o, &c);
	result(e && !strcmp(e, "restore"), "classify: generation -> restore");
	c = o;
	c.vmgenid_gen = 2;
	e = counters_event(&o, &c);
	result(e && !strcmp(e, "restore"), "classify: vmgenid -> restore");
	c = o;
	c.marker = 2;
	e = counters_event(&o, &c);
	result(e && !strcmp(e, "migration"),
	       "classify: marker only, counter present -> migration");
	o.have = c.have = CNT_MARKER;
	e = counters_event(&o, &c);
	result(e && !strcmp(e, "unknown"),
	       "classify: marker only, no VM_GEN_COUNTER_PRESENT -> unknown");
	o.have = CNT_MARKER;
	c.have = CNT_MARKER | CNT_VMGENID;
	c.marker = o.marker;
	result(counters_event(&o, &c) == NULL,
	       "classify: a counter that appeared is not a change");
}

static void test_state(const char *dir)
{
	struct counters c = { CNT_VMCLOCK_GEN | CNT_MARKER | CNT_VMGENID,
			      18446744073709551615ULL, 5, 6 }, l;
	char buf[256], path[512];
	uint64_t pass;
	int n;

	n = counters_format(buf, sizeof(buf), &c, 77);
	result(n > 0 && !strcmp(buf, "vmclock_generation=18446744073709551615\n"
				     "disruption_marker=5\n"
				     "vmgenid_generation=6\npass=77\n"),
	       "state: key=value format");
	result(n > 0 && write_atomic(dir, "gen", buf, (size_t)n) == 0,
	       "state: atomic write");
	fmt_str(path, sizeof(path), "%s/gen", dir);
	result(counters_load(path, &l, &pass) == 0 && pass == 77 &&
	       l.have == c.have && l.vmclock_gen == c.vmclock_gen &&
	       l.marker == 5 && l.vmgenid_gen == 6, "state: read back");
	{
		struct stat st;

		result(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644,
		       "state: file mode 0644");
	}
	fmt_str(path, sizeof(path), "%s/.gen.tmp", dir);
	result(access(path, F_OK) < 0, "state: no temporary file left");
	c.have = CNT_MARKER;
	n = counters_format(buf, sizeof(buf), &c, 0);
	result(n > 0 && !strcmp(buf, "disruption_marker=5\npass=0\n"),
	       "state: absent counters are left out");
}

static void test_parse(void)
{
	int64_t ns;
	uint64_t v;

	result(parse_seconds("30", &ns) == 0 && ns == 30 * NSEC_PER_SEC,
	       "parse: 30 s");
	result(parse_seconds("0.25", &ns) == 0 && ns == 250 * NSEC_PER_MSEC,
	       "parse: 0.25 s");
	result(parse_seconds(".5", &ns) == 0 && ns == 500 * NSEC_PER_MSEC,
	       "parse: .5 s");
	result(parse_seconds("1.", &ns) < 0 && parse_seconds("x", &ns) < 0 &&
	       parse_seconds("", &ns) < 0 && parse_seconds("-1", &ns) < 0,
	       "parse: junk seconds rejected");
	result(parse_u64("18446744073709551615", &v) == 0 && v == UINT64_MAX &&
	       parse_u64("18446744073709551616", &v) < 0,
	       "parse: u64 bounds");
}

static void touch(const char *dir, const char *name, mode_t mode)
{
	char p[512];
	int fd;

	fmt_str(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd >= 0) {
		if (write(fd, "#!/bin/sh\n", 10) != 10)
			result(0, "write %s", p);
		fchmod(fd, mode);
		close(fd);
	}
}

static void test_hooks(const char *dir)
{
	static struct hookset hs;
	struct hook_policy pol;
	char a[512], b[512], order[512];
	const char *dirs[2] = { a, b };
	size_t off = 0;
	int i;

	fmt_str(a, sizeof(a), "%s/etc", dir);
	fmt_str(b, sizeof(b), "%s/lib", dir);
	mkdir(a, 0755);
	mkdir(b, 0755);
	touch(b, "b", 0755);
	touch(b, "B", 0755);
	touch(b, "10-x", 0755);
	touch(b, "9-y", 0755);
	touch(b, "_z", 0755);
	touch(b, "-w", 0755);
	touch(a, "10-x", 0755);
	touch(a, "a.sh", 0755);
	touch(a, ".hidden", 0755);
	touch(a, "bak~", 0755);
	touch(a, "noexec", 0644);
	hook_policy_init(&pol, -1);
	hooks_scan(&hs, dirs, 2, &pol);
	order[0] = '\0';
	for (i = 0; i < hs.n; i++) {
		const struct hook *h = &hs.hooks[hs.order[i]];
		int n;

		if (h->state != HOOK_ELIGIBLE)
			continue;
		n = snprintf(order + off, sizeof(order) - off, "%s%s",
			     off ? " " : "", h->name);
		if (n > 0)
			off += (size_t)n;
	}
	result(!strcmp(order, "-w 10-x 9-y B _z b"),
	       "hooks: C-locale order (got '%s')", order);
	for (i = 0; i < hs.n; i++) {
		const struct hook *h = &hs.hooks[hs.order[i]];

		if (!strcmp(h->name, "10-x") && h->dir == 0)
			result(h->state == HOOK_ELIGIBLE,
			       "hooks: the first directory wins by name");
		if (!strcmp(h->name, "10-x") && h->dir == 1)
			result(h->state == HOOK_OVERRIDDEN,
			       "hooks: the later one is overridden");
		if (!strcmp(h->name, "a.sh"))
			result(h->state == HOOK_IGNORED,
			       "hooks: a name with a dot is ignored: %s",
			       h->why);
		if (!strcmp(h->name, ".hidden"))
			result(h->state == HOOK_IGNORED,
			       "hooks: a dotfile is ignored: %s", h->why);
		if (!strcmp(h->name, "bak~"))
			result(h->state == HOOK_IGNORED,
			       "hooks: bak~ is ignored: %s", h->why);
		if (!strcmp(h->name, "noexec"))
			result(h->state == HOOK_REFUSED,
			       "hooks: not executable is refused: %s", h->why);
	}
}

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/vmgen-units.XXXXXX";
	const char *tmp = argc > 1 ? argv[1] : NULL;
	int own = !tmp;

	if (!tmp) {
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		tmp = dir;
	}
	test_page();
	test_files(tmp);
	test_uevent();
	test_receive();
	test_classify();
	test_state(tmp);
	test_parse();
	test_hooks(tmp);
	if (own)
		nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return failures ? 1 : 0;
}
