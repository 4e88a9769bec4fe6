// SPDX-License-Identifier: GPL-2.0
/*
 * Which devices exist, who drives them, whether they notify, and which
 * source vmgend should use.  Shared by vmgend and vmgenctl.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmgen/vmclock-abi.h>
#include <vmgen/vmclock.h>
#include <vmgen/vmgenid.h>

#include "common.h"

/* The lowest-numbered /dev/vmclockN. */
static int find_vmclock(char *path, size_t size)
{
	unsigned long best = (unsigned long)-1;
	struct dirent *de;
	DIR *d;

	d = opendir("/dev");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		unsigned long n;

		if (strncmp(de->d_name, "vmclock", 7) != 0 ||
		    parse_uint(de->d_name + 7, 1000000, &n) < 0)
			continue;
		if (n < best)
			best = n;
	}
	closedir(d);
	if (best == (unsigned long)-1)
		return -1;
	return fmt_str(path, size, VMGEN_VMCLOCK_DEV_PREFIX "%lu", best);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void attr_path(char *out, size_t size, const char *dir,
		      const char *attr)
{
	if (fmt_str(out, size, "%s/%s", dir, attr) < 0)
		out[0] = '\0';
}

static void read_attr(const char *dir, const char *attr, char *buf,
		      size_t size)
{
	char p[512];

	attr_path(p, sizeof(p), dir, attr);
	if (read_text(p, buf, size) < 0)
		buf[0] = '\0';
}

static void probe_vmclock(struct platform *pf, const struct platform_opts *o)
{
	struct vmclock_dev *d = &pf->vc;
	const char *drv;
	char p[512], val[16];
	struct stat st;
	int r;

	memset(d, 0, sizeof(*d));
	if (o->vmclock_dev && !strcmp(o->vmclock_dev, "none")) {
		fmt_str(d->notify_why, sizeof(d->notify_why),
			"disabled (--vmclock-dev none)");
		return;
	}
	if (o->vmclock_dev) {
		copy_str(d->path, sizeof(d->path), o->vmclock_dev);
	} else if (find_vmclock(d->path, sizeof(d->path)) < 0) {
		fmt_str(d->notify_why, sizeof(d->notify_why),
			"no " VMGEN_VMCLOCK_DEV_PREFIX "* device");
		return;
	}
	if (stat(d->path, &st) < 0) {
		d->open_errno = errno;
		fmt_str(d->notify_why, sizeof(d->notify_why), "%s: %s",
			d->path, strerror(errno));
		return;
	}
	d->present = 1;
	d->is_file = S_ISREG(st.st_mode);
	copy_str(d->name, sizeof(d->name), base_name(d->path));
	fmt_str(d->sysdir, sizeof(d->sysdir), "%s/class/misc/%s",
		pf->sysfs_root, d->name);
	attr_path(p, sizeof(p), d->sysdir, "device/driver");
	link_basename(p, d->driver, sizeof(d->driver));
	attr_path(p, sizeof(p), d->sysdir, VMGEN_VMCLOCK_ATTR_NOTIFICATIONS);
	d->ext = path_exists(p);
	/*
	 * The kernel's own driver (7.x) registers its misc device without a
	 * parent, so there is no device/driver link; its platform driver,
	 * named "vmclock", tells it is there.
	 */
	if (!d->driver[0] && !d->ext) {
		attr_path(p, sizeof(p), pf->sysfs_root,
			  "bus/platform/drivers/vmclock");
		if (path_exists(p))
			copy_str(d->driver, sizeof(d->driver), "ptp_vmclock");
	}
	if (d->ext)
		read_attr(d->sysdir, VMGEN_VMCLOCK_ATTR_NOTIFY_MODE,
			  d->notify_mode, sizeof(d->notify_mode));

	d->h = vmgen_vmclock_open(d->path);
	if (!d->h) {
		d->open_errno = errno;
	} else if (vmgen_vmclock_read(d->h, &d->c) < 0) {
		d->read_errno = errno;
	} else {
		d->readable = 1;
	}

	drv = d->driver[0] ? d->driver : "unknown driver";
	if (d->is_file) {
		if (!d->readable)
			fmt_str(d->notify_why, sizeof(d->notify_why),
				"test page unreadable");
		else if (!(d->c.have & VMGEN_HAVE_NOTIFICATION_FLAG))
			fmt_str(d->notify_why, sizeof(d->notify_why),
				"test page without NOTIFICATION_PRESENT");
		else if (!o->fake_notify)
			fmt_str(d->notify_why, sizeof(d->notify_why),
				"test page: it notifies only through "
				"--trigger-fifo");
		else
			d->notifies = 1;
		if (d->notifies)
			fmt_str(d->notify_why, sizeof(d->notify_why),
				"test page, notified through --trigger-fifo");
		return;
	}
	if (d->ext) {
		read_attr(d->sysdir, VMGEN_VMCLOCK_ATTR_NOTIFICATIONS, val,
			  sizeof(val));
		if (strcmp(val, "1") != 0) {
			fmt_str(d->notify_why, sizeof(d->notify_why),
				"%s reports notifications=%s (notify_mode %s): "
				"the host does not notify", drv, val,
				d->notify_mode[0] ? d->notify_mode : "?");
			return;
		}
	}
	if (!d->h) {
		fmt_str(d->notify_why, sizeof(d->notify_why),
			"cannot open %s: %s", d->path, strerror(d->open_errno));
		/* vmgen_vmclock says so in sysfs even if we cannot open it */
		d->notifies = d->ext;
		return;
	}
	r = vmgen_vmclock_can_notify(d->h);
	if (r == 1) {
		d->notifies = 1;
		if (d->ext)
			fmt_str(d->notify_why, sizeof(d->notify_why),
				"%s notifies (notify_mode %s)", drv,
				d->notify_mode);
		else
			fmt_str(d->notify_why, sizeof(d->notify_why),
				"%s notifies (poll() works)", drv);
	} else if (r < 0) {
		fmt_str(d->notify_why, sizeof(d->notify_why),
			"poll() on %s failed: %s", d->path, strerror(errno));
	} else if (d->readable &&
		   !(d->c.have & VMGEN_HAVE_NOTIFICATION_FLAG)) {
		fmt_str(d->notify_why, sizeof(d->notify_why),
			"the page lacks NOTIFICATION_PRESENT: the host does "
			"not notify (as QEMU's vmclock)");
	} else {
		fmt_str(d->notify_why, sizeof(d->notify_why),
			"%s has no working poll() (ptp_vmclock before Linux "
			"7.0 has none)", drv);
	}
}

static void probe_vmgenid(struct platform *pf, const struct platform_opts *o)
{
	struct vmgenid_dev *d = &pf->vg;
	static const char *const kdrv[] = {
		"bus/platform/drivers/vmgenid",
		"bus/acpi/drivers/vmgenid",
	};
	struct pollfd pfd;
	struct stat st;
	char p[512];
	size_t i;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < ARRAY_SIZE(kdrv); i++) {
		if (fmt_str(p, sizeof(p), "%s/%s", pf->sysfs_root,
			    kdrv[i]) == 0 && path_exists(p)) {
			copy_str(d->kernel_driver, sizeof(d->kernel_driver), p);
			break;
		}
	}
	if (o->vmgenid_dev && !strcmp(o->vmgenid_dev, "none")) {
		fmt_str(d->notify_why, sizeof(d->notify_why),
			"disabled (--vmgenid-dev none)");
		return;
	}
	copy_str(d->path, sizeof(d->path),
		 o->vmgenid_dev ? o->vmgenid_dev : VMGENID_DEVICE_PATH);
	if (stat(d->path, &st) < 0) {
		d->open_errno = errno;
		if (errno == ENOENT && !o->vmgenid_dev)
			fmt_str(d->notify_why, sizeof(d->notify_why),
				"no %s (vmgen_vmgenid not loaded)", d->path);
		else
			fmt_str(d->notify_why, sizeof(d->notify_why), "%s: %s",
				d->path, strerror(errno));
		return;
	}
	d->present = 1;
	d->is_file = S_ISREG(st.st_mode);
	fmt_str(d->sysdir, sizeof(d->sysdir), "%s/class/misc/%s",
		pf->sysfs_root, base_name(d->path));
	d->ext = path_exists(d->sysdir);
	if (d->ext) {
		read_attr(d->sysdir, VMGENID_ATTR_MODE, d->mode,
			  sizeof(d->mode));
		read_attr(d->sysdir, VMGENID_ATTR_RNG_RESEED, d->rng_reseed,
			  sizeof(d->rng_reseed));
	}
	d->h = vmgen_vmgenid_open(d->path);
	if (!d->h) {
		d->open_errno = errno;
		fmt_str(d->notify_why, sizeof(d->notify_why),
			"cannot open %s: %s", d->path, strerror(errno));
		return;
	}
	if (vmgen_vmgenid_read(d->h, &d->gen) < 0) {
		d->read_errno = errno;
		fmt_str(d->notify_why, sizeof(d->notify_why),
			"cannot read %s: %s", d->path, strerror(errno));
		return;
	}
	d->readable = 1;
	if (d->is_file) {
		d->notifies = o->fake_notify;
		fmt_str(d->notify_why, sizeof(d->notify_why), "%s",
			o->fake_notify ?
			"test file, notified through --trigger-fifo" :
			"test file: it notifies only through --trigger-fifo");
		return;
	}
	pfd.fd = vmgen_vmgenid_fd(d->h);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) >= 0 &&
	    (pfd.revents & (POLLHUP | POLLERR | POLLNVAL | POLLOUT))) {
		fmt_str(d->notify_why, sizeof(d->notify_why),
			"%s cannot be polled", d->path);
		return;
	}
	d->notifies = 1;
	fmt_str(d->notify_why, sizeof(d->notify_why),
		"vmgen_vmgenid notifies (mode %s)",
		d->mode[0] ? d->mode : "?");
}

void platform_probe(struct platform *pf, const struct platform_opts *o)
{
	copy_str(pf->sysfs_root, sizeof(pf->sysfs_root),
		 o->sysfs_root ? o->sysfs_root : DEFAULT_SYSFS_ROOT);
	probe_vmclock(pf, o);
	probe_vmgenid(pf, o);
}

void platform_close(struct platform *pf)
{
	vmgen_vmclock_close(pf->vc.h);
	pf->vc.h = NULL;
	vmgen_vmgenid_close(pf->vg.h);
	pf->vg.h = NULL;
}

int valid_source_name(const char *s)
{
	return !strcmp(s, "auto") || !strcmp(s, "vmclock") ||
	       !strcmp(s, "vmgenid") || !strcmp(s, "poll");
}

static void describe_vmclock(const struct vmclock_dev *d, char *buf,
			     size_t n)
{
	if (!d->present)
		fmt_str(buf, n, "VMClock: %s", d->notify_why);
	else if (!d->h)
		fmt_str(buf, n, "VMClock: cannot open %s: %s", d->path,
			strerror(d->open_errno));
	else if (!d->readable)
		fmt_str(buf, n, "VMClock: cannot read the page of %s: %s",
			d->path, strerror(d->read_errno));
	else
		fmt_str(buf, n, "VMClock %s: %s", d->path, d->notify_why);
}

static void describe_vmgenid(const struct vmgenid_dev *d, char *buf,
			     size_t n)
{
	if (!d->present || !d->readable)
		fmt_str(buf, n, "VMGenID: %s", d->notify_why);
	else
		fmt_str(buf, n, "VMGenID %s: %s", d->path, d->notify_why);
}

int select_source(const struct platform *pf, const char *req,
		  struct selection *sel)
{
	const struct vmclock_dev *vc = &pf->vc;
	const struct vmgenid_dev *vg = &pf->vg;
	int vc_ok = vc->present && vc->readable;
	int vg_ok = vg->present && vg->readable;
	int vc_n = vc_ok && vc->notifies;
	int vg_n = vg_ok && vg->notifies;
	char dc[320], dg[320];

	memset(sel, 0, sizeof(*sel));
	describe_vmclock(vc, dc, sizeof(dc));
	describe_vmgenid(vg, dg, sizeof(dg));

	if (!strcmp(req, "vmclock")) {
		if (!vc_n) {
			fmt_str(sel->why, sizeof(sel->why),
				"--source vmclock is not available: %s", dc);
			return -1;
		}
		sel->use_vmclock = sel->wake_vmclock = 1;
		sel->name = "vmclock";
		fmt_str(sel->why, sizeof(sel->why), "requested; %s", dc);
		return 0;
	}
	if (!strcmp(req, "vmgenid")) {
		if (!vg_n) {
			fmt_str(sel->why, sizeof(sel->why),
				"--source vmgenid is not available: %s", dg);
			return -1;
		}
		sel->use_vmgenid = sel->wake_vmgenid = 1;
		sel->name = "vmgenid";
		fmt_str(sel->why, sizeof(sel->why), "requested; %s", dg);
		return 0;
	}
	if (!strcmp(req, "poll")) {
		if (!vc_ok) {
			fmt_str(sel->why, sizeof(sel->why),
				"--source poll needs a readable VMClock page: "
				"%s", dc);
			return -1;
		}
		sel->use_vmclock = sel->timed = 1;
		sel->name = "poll";
		fmt_str(sel->why, sizeof(sel->why),
			"requested: reading the page of %s periodically",
			vc->path);
		return 0;
	}
	/* auto */
	if (vc_n && vg_n) {
		sel->use_vmclock = sel->wake_vmclock = 1;
		sel->use_vmgenid = sel->wake_vmgenid = 1;
		sel->name = "vmclock+vmgenid";
		fmt_str(sel->why, sizeof(sel->why),
			"both notify (VMGenID tells clones apart, VMClock "
			"tells migration from restore); %s; %s", dc, dg);
	} else if (vc_n) {
		sel->use_vmclock = sel->wake_vmclock = 1;
		sel->name = "vmclock";
		fmt_str(sel->why, sizeof(sel->why), "%s; %s", dc, dg);
	} else if (vg_n) {
		sel->use_vmgenid = sel->wake_vmgenid = 1;
		sel->name = "vmgenid";
		if (vc_ok) {
			/* read its disruption marker on each VMGenID wake */
			sel->use_vmclock = 1;
			fmt_str(sel->why, sizeof(sel->why),
				"%s; %s (its disruption marker is read on "
				"each VMGenID notification)", dg, dc);
		} else {
			fmt_str(sel->why, sizeof(sel->why), "%s; %s", dg, dc);
		}
	} else if (vc_ok) {
		sel->use_vmclock = sel->timed = 1;
		sel->name = "poll";
		fmt_str(sel->why, sizeof(sel->why),
			"nothing notifies: polling the VMClock page; %s; %s",
			dc, dg);
	} else {
		fmt_str(sel->why, sizeof(sel->why), "no source available: %s; %s",
			dc, dg);
		return -1;
	}
	return 0;
}

int platform_read(struct platform *pf, const struct selection *sel,
		  struct counters *c)
{
	memset(c, 0, sizeof(*c));
	if (sel->use_vmclock && pf->vc.h) {
		if (vmgen_vmclock_read(pf->vc.h, &pf->vc.c) < 0)
			return -1;
		c->have |= CNT_MARKER;
		c->marker = pf->vc.c.disruption_marker;
		if (pf->vc.c.flags & VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT)
			c->have |= CNT_GEN_FLAG;
		if (pf->vc.c.have & VMGEN_HAVE_GENERATION) {
			c->have |= CNT_VMCLOCK_GEN;
			c->vmclock_gen = pf->vc.c.generation;
		}
	}
	if (sel->use_vmgenid && pf->vg.h) {
		if (vmgen_vmgenid_read(pf->vg.h, &pf->vg.gen) < 0)
			return -1;
		c->have |= CNT_VMGENID;
		c->vmgenid_gen = pf->vg.gen;
	}
	return 0;
}

uint64_t platform_notify_ns(const struct platform *pf, int vmclock)
{
	const char *dir = vmclock ? pf->vc.sysdir : pf->vg.sysdir;
	int ext = vmclock ? pf->vc.ext : pf->vg.ext;
	char p[512];
	uint64_t v;

	if (!ext || !dir[0])
		return 0;
	attr_path(p, sizeof(p), dir,
		  vmclock ? VMGEN_VMCLOCK_ATTR_LAST_NOTIFY_NS :
			    VMGENID_ATTR_LAST_NOTIFY_NS);
	if (read_u64_file(p, &v) < 0)
		return 0;
	return v;
}
