// SPDX-License-Identifier: GPL-2.0
/*
 * vmgen_vmclock: the VMClock device for kernels whose own ptp_vmclock is
 * missing or lacks host notifications.
 *
 * /dev/vmclockN behaves exactly like the upstream 7.0 driver (read(), mmap(),
 * poll(), a PTP clock). Beside that ABI, never changing it, the module adds
 * read-only sysfs attributes, a KOBJ_CHANGE uevent when the generation
 * counter or disruption marker changes, and an optional seq_count watch for
 * hosts that cannot notify. See docs/vmclock.md.
 */

#include <linux/acpi.h>
#include <linux/atomic.h>
#include <linux/build_bug.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/poll.h>
#include <linux/ptp_clock_kernel.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/sysfs.h>
#include <linux/timex.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <vmgen/vmclock-abi.h>
#include <vmgen/vmclock.h>

/* The layout is fixed by the hosts; make sure our rendering matches it. */
static_assert(offsetof(struct vmclock_abi, seq_count) == 0x0c);
static_assert(offsetof(struct vmclock_abi, flags) == 0x18);
static_assert(offsetof(struct vmclock_abi, clock_status) == 0x22);
static_assert(offsetof(struct vmclock_abi, counter_value) == 0x28);
static_assert(offsetof(struct vmclock_abi, time_sec) == 0x48);
static_assert(offsetof(struct vmclock_abi, vm_generation_counter) == 0x68);
static_assert(sizeof(struct vmclock_abi) == 0x70);

/* Smallest region probe accepts: the header up to and including flags. */
#define VMCLOCK_MIN_REGION	0x20
/* How long a reader waits for the host to finish an update. */
#define VMCLOCK_READ_TIMEOUT_MS	100
#define VMCLOCK_READ_TIMEOUT_US	(VMCLOCK_READ_TIMEOUT_MS * USEC_PER_MSEC)
/*
 * The notification path waits much less, and looks again this much later:
 * a host that leaves the page mid-update must not cost the guest a busy
 * wait per notification.
 */
#define VMCLOCK_NOTIFY_READ_US	100
#define VMCLOCK_NOTIFY_RETRY_MS	100

/* The counter get_cycles() reads on this architecture. */
#if defined(CONFIG_X86)
#define VMCLOCK_NATIVE_COUNTER	VMCLOCK_COUNTER_X86_TSC
#elif defined(CONFIG_ARM64)
#define VMCLOCK_NATIVE_COUNTER	VMCLOCK_COUNTER_ARM_VCNT
#else
#define VMCLOCK_NATIVE_COUNTER	VMCLOCK_COUNTER_INVALID
#endif

/* Whether the page, by its own size field, holds @field. */
#define VMCLOCK_HAS_FIELD(st, field) \
	((st)->size >= offsetofend(struct vmclock_abi, field))

static unsigned int watch_ms;
module_param(watch_ms, uint, 0444);
MODULE_PARM_DESC(watch_ms,
		 "If the host cannot notify, check seq_count every this many ms and treat a change as a notification (0 = off, the default)");

static bool force_bind;
module_param(force_bind, bool, 0444);
MODULE_PARM_DESC(force_bind,
		 "Bind even where this kernel's own ptp_vmclock provides notifications (default 0)");

enum vmclock_notify_mode {
	VMCLOCK_NOTIFY_NONE,
	VMCLOCK_NOTIFY_ACPI,
	VMCLOCK_NOTIFY_IRQ,
	VMCLOCK_NOTIFY_TIMER,
};

static const char * const vmclock_notify_names[] = {
	[VMCLOCK_NOTIFY_NONE] = VMGEN_VMCLOCK_NOTIFY_MODE_NONE,
	[VMCLOCK_NOTIFY_ACPI] = VMGEN_VMCLOCK_NOTIFY_MODE_ACPI,
	[VMCLOCK_NOTIFY_IRQ] = VMGEN_VMCLOCK_NOTIFY_MODE_IRQ,
	[VMCLOCK_NOTIFY_TIMER] = VMGEN_VMCLOCK_NOTIFY_MODE_TIMER,
};

/*
 * One per bound device. Reference counted, so that files opened on
 * /dev/vmclockN outlive an unbind: the platform device holds one reference
 * until it goes, every open file one more.
 */
struct vmclock_state {
	struct kref refcount;
	struct device *dev;		/* the platform device, while bound */
	struct vmclock_abi *clk;	/* the page, mapped until the last put */
	phys_addr_t phys;
	u32 size;			/* the page's size field, <= the region */

	struct miscdevice miscdev;
	bool misc_registered;		/* also: notify_work may use the device */
	int index;			/* IDA index N of vmclockN, or -1 */
	char name[20];			/* "vmclock" + any int */
	wait_queue_head_t wait;		/* poll() waits here */
	bool gone;			/* unbound: open files get errors */

	enum vmclock_notify_mode notify_mode;	/* fixed before misc_register() */
	int irq;
	unsigned long watch_interval;	/* jiffies */
	u32 watch_seq;			/* last even seq_count the watch saw */
	struct delayed_work watch_work;
	struct delayed_work notify_work;
	atomic64_t events;
	atomic64_t last_notify_ns;
	u64 seen_events;		/* owned by notify_work */
	u64 seen_marker;		/* owned by notify_work */
	u64 seen_gen;			/* owned by notify_work */

	struct ptp_clock *ptp;
	struct ptp_clock_info ptp_info;
};

/* Per open file: the raw seq_count this file last read, for poll(). */
struct vmclock_file {
	struct vmclock_state *st;
	atomic_t seen_seq;
};

/* The counters the extension attributes and uevents report. */
struct vmclock_counters {
	u64 marker;
	u64 gen;
	bool has_marker;
	bool has_gen;
};

static DEFINE_IDA(vmclock_ida);

static void vmclock_free(struct kref *kref)
{
	struct vmclock_state *st = container_of(kref, struct vmclock_state,
						refcount);

	memunmap(st->clk);
	kfree(st);
}

/*
 * The seqcount protocol: the host makes seq_count odd, updates, then makes
 * it even again. A reader starts from the even value (an odd one can never
 * match at the end, so the read is retried) and accepts what it copied only
 * if seq_count did not move meanwhile.
 */
static u32 vmclock_seq(const struct vmclock_state *st)
{
	return le32_to_cpu(READ_ONCE(st->clk->seq_count));
}

static u32 vmclock_read_begin(const struct vmclock_state *st)
{
	u32 seq = vmclock_seq(st) & ~1U;

	/* Order the seq_count load before the loads of the fields. */
	smp_rmb();
	return seq;
}

static bool vmclock_read_retry(const struct vmclock_state *st, u32 seq)
{
	/* Order the loads of the fields before the seq_count re-load. */
	smp_rmb();
	return vmclock_seq(st) != seq;
}

/*
 * Copy @len bytes at @off of the page as one consistent snapshot, giving up
 * after @timeout_us. Stores the seq_count it matched in @seqp. May sleep.
 */
static int vmclock_snapshot(const struct vmclock_state *st, void *dst,
			    size_t off, size_t len, u32 *seqp,
			    unsigned int timeout_us)
{
	const u8 *src = (const u8 *)st->clk + off;
	ktime_t deadline = ktime_add_us(ktime_get(), timeout_us);
	u32 seq;

	for (;;) {
		seq = vmclock_read_begin(st);
		memcpy(dst, src, len);
		if (!vmclock_read_retry(st, seq))
			break;
		if (ktime_after(ktime_get(), deadline))
			return -ETIMEDOUT;
		/* A host stuck mid-update must not hold this CPU for long. */
		cond_resched();
		cpu_relax();
	}
	if (seqp)
		*seqp = seq;
	return 0;
}

/* The struct as far as the page holds it; fields it lacks read as 0. */
static int vmclock_snapshot_abi(const struct vmclock_state *st,
				struct vmclock_abi *abi, unsigned int timeout_us)
{
	memset(abi, 0, sizeof(*abi));
	return vmclock_snapshot(st, abi, 0,
				min_t(size_t, st->size, sizeof(*abi)), NULL,
				timeout_us);
}

static void vmclock_counters_from(const struct vmclock_state *st,
				  const struct vmclock_abi *abi,
				  struct vmclock_counters *c)
{
	c->has_marker = VMCLOCK_HAS_FIELD(st, disruption_marker);
	c->marker = le64_to_cpu(abi->disruption_marker);
	c->has_gen = VMCLOCK_HAS_FIELD(st, vm_generation_counter) &&
		     (le64_to_cpu(abi->flags) &
		      VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT);
	c->gen = le64_to_cpu(abi->vm_generation_counter);
}

static int vmclock_read_counters(const struct vmclock_state *st,
				 struct vmclock_counters *c,
				 unsigned int timeout_us)
{
	struct vmclock_abi abi;
	int ret;

	ret = vmclock_snapshot_abi(st, &abi, timeout_us);
	if (ret)
		return ret;
	vmclock_counters_from(st, &abi, c);
	return 0;
}

/* ---- notifications ---- */

/*
 * Called for every notification, from the ACPI notify handler, the IRQ
 * handler or the seq_count watch. O(1); the rest is left to notify_work,
 * which coalesces a burst into one run (and, while a look again is
 * pending, into that one).
 */
static void vmclock_notify(struct vmclock_state *st)
{
	atomic64_set(&st->last_notify_ns, ktime_get_ns());
	atomic64_inc(&st->events);
	wake_up_interruptible(&st->wait);
	schedule_delayed_work(&st->notify_work, 0);
}

static void vmclock_send_uevent(struct vmclock_state *st,
				const struct vmclock_counters *c)
{
	char gen[48], marker[48], notify_ns[48];
	char *envp[4];
	int n = 0;

	if (c->has_gen) {
		snprintf(gen, sizeof(gen),
			 VMGEN_VMCLOCK_UEVENT_GENERATION "=%llu", c->gen);
		envp[n++] = gen;
	}
	if (c->has_marker) {
		snprintf(marker, sizeof(marker),
			 VMGEN_VMCLOCK_UEVENT_DISRUPTION_MARKER "=%llu",
			 c->marker);
		envp[n++] = marker;
	}
	snprintf(notify_ns, sizeof(notify_ns),
		 VMGEN_VMCLOCK_UEVENT_NOTIFY_NS "=%llu",
		 (u64)atomic64_read(&st->last_notify_ns));
	envp[n++] = notify_ns;
	envp[n] = NULL;

	kobject_uevent_env(&st->miscdev.this_device->kobj, KOBJ_CHANGE, envp);
}

/* Everything about a notification that may sleep. */
static void vmclock_notify_work(struct work_struct *work)
{
	struct vmclock_state *st = container_of(to_delayed_work(work),
						struct vmclock_state,
						notify_work);
	struct vmclock_counters c;
	struct kobject *kobj;
	bool marker_changed, gen_changed;
	u64 events;

	/* A notification may arrive while probe still registers the device. */
	if (!smp_load_acquire(&st->misc_registered))
		return;
	kobj = &st->miscdev.this_device->kobj;

	events = atomic64_read(&st->events);
	if (events != st->seen_events) {
		st->seen_events = events;
		sysfs_notify(kobj, NULL, "events");
		sysfs_notify(kobj, NULL, "last_notify_ns");
	}

	/*
	 * The page is mid-update: look again a little later rather than wait
	 * for the host here (for as long as it likes), or lose the change.
	 */
	if (vmclock_read_counters(st, &c, VMCLOCK_NOTIFY_READ_US)) {
		schedule_delayed_work(&st->notify_work,
				      msecs_to_jiffies(VMCLOCK_NOTIFY_RETRY_MS));
		return;
	}

	marker_changed = c.has_marker && c.marker != st->seen_marker;
	gen_changed = c.has_gen && c.gen != st->seen_gen;
	if (!marker_changed && !gen_changed)
		return;
	st->seen_marker = c.marker;
	st->seen_gen = c.gen;

	if (marker_changed)
		sysfs_notify(kobj, NULL, "disruption_marker");
	if (gen_changed)
		sysfs_notify(kobj, NULL, "vm_generation_counter");
	vmclock_send_uevent(st, &c);
}

/* For hosts that cannot notify: look at seq_count every watch_ms. */
static void vmclock_watch_work(struct work_struct *work)
{
	struct vmclock_state *st = container_of(to_delayed_work(work),
						struct vmclock_state,
						watch_work);
	u32 seq = vmclock_seq(st);

	/* Odd: the host is mid-update; the next look sees the result. */
	if (!(seq & 1) && seq != st->watch_seq) {
		st->watch_seq = seq;
		vmclock_notify(st);
	}
	schedule_delayed_work(&st->watch_work, st->watch_interval);
}

static irqreturn_t vmclock_irq(int irq, void *data)
{
	vmclock_notify(data);
	return IRQ_HANDLED;
}

#ifdef CONFIG_ACPI
static void vmclock_acpi_notify(acpi_handle handle, u32 event, void *data)
{
	vmclock_notify(data);
}

static int vmclock_acpi_start(struct vmclock_state *st)
{
	acpi_status status;

	status = acpi_install_notify_handler(ACPI_HANDLE(st->dev),
					     ACPI_DEVICE_NOTIFY,
					     vmclock_acpi_notify, st);
	return ACPI_FAILURE(status) ? -ENODEV : 0;
}

static void vmclock_acpi_stop(struct vmclock_state *st)
{
	acpi_remove_notify_handler(ACPI_HANDLE(st->dev), ACPI_DEVICE_NOTIFY,
				   vmclock_acpi_notify);
	/* Let a notification already queued to run the handler finish. */
	acpi_os_wait_events_complete();
}
#else
static int vmclock_acpi_start(struct vmclock_state *st)
{
	return -ENODEV;
}

static void vmclock_acpi_stop(struct vmclock_state *st)
{
}
#endif

/*
 * Pick and start the notification source: the host's (ACPI Notify or DT
 * interrupt) if it announces one, else the seq_count watch if watch_ms is
 * set. Runs before misc_register(), so poll() never sees the mode change.
 */
static int vmclock_start_notify(struct vmclock_state *st,
				struct platform_device *pdev, u64 flags)
{
	struct device *dev = &pdev->dev;
	int irq, ret;

	if (flags & VMCLOCK_FLAG_NOTIFICATION_PRESENT) {
		if (ACPI_HANDLE(dev)) {
			ret = vmclock_acpi_start(st);
			if (!ret) {
				st->notify_mode = VMCLOCK_NOTIFY_ACPI;
				return 0;
			}
			dev_warn(dev, "cannot install the ACPI notify handler (%d)\n",
				 ret);
		} else {
			irq = platform_get_irq_optional(pdev, 0);
			if (irq == -EPROBE_DEFER)
				return irq;
			if (irq > 0) {
				ret = request_irq(irq, vmclock_irq, IRQF_SHARED,
						  st->name, st);
				if (!ret) {
					st->irq = irq;
					st->notify_mode = VMCLOCK_NOTIFY_IRQ;
					return 0;
				}
				dev_warn(dev, "cannot request IRQ %d (%d)\n",
					 irq, ret);
			} else {
				dev_warn(dev, "host announces notifications but the device has no interrupt\n");
			}
		}
	}

	if (watch_ms) {
		st->watch_interval = msecs_to_jiffies(watch_ms);
		st->watch_seq = vmclock_seq(st);
		st->notify_mode = VMCLOCK_NOTIFY_TIMER;
		schedule_delayed_work(&st->watch_work, st->watch_interval);
		dev_info(dev, "no host notifications; watching seq_count every %u ms (watch_ms)\n",
			 watch_ms);
	}
	return 0;
}

/* Once this returns, no notification runs or will run. */
static void vmclock_stop_notify(struct vmclock_state *st)
{
	switch (st->notify_mode) {
	case VMCLOCK_NOTIFY_ACPI:
		vmclock_acpi_stop(st);
		break;
	case VMCLOCK_NOTIFY_IRQ:
		free_irq(st->irq, st);
		break;
	case VMCLOCK_NOTIFY_TIMER:
		cancel_delayed_work_sync(&st->watch_work);
		break;
	case VMCLOCK_NOTIFY_NONE:
		break;
	}
	cancel_delayed_work_sync(&st->notify_work);
}

/* ---- /dev/vmclockN ---- */

static int vmclock_open(struct inode *inode, struct file *file)
{
	/* misc_open() left our miscdevice here, and holds misc_mtx. */
	struct vmclock_state *st = container_of(file->private_data,
						struct vmclock_state, miscdev);
	struct vmclock_file *fst;

	fst = kzalloc(sizeof(*fst), GFP_KERNEL);
	if (!fst)
		return -ENOMEM;

	/*
	 * Safe: misc_deregister() takes misc_mtx too, and the platform
	 * device's reference is only dropped after it.
	 */
	kref_get(&st->refcount);
	fst->st = st;
	atomic_set(&fst->seen_seq, 0);
	file->private_data = fst;
	return 0;
}

static int vmclock_release(struct inode *inode, struct file *file)
{
	struct vmclock_file *fst = file->private_data;

	kref_put(&fst->st->refcount, vmclock_free);
	kfree(fst);
	return 0;
}

/* Raw bytes of the page from *ppos, one consistent snapshot per call. */
static ssize_t vmclock_read(struct file *file, char __user *buf,
			    size_t count, loff_t *ppos)
{
	struct vmclock_file *fst = file->private_data;
	struct vmclock_state *st = fst->st;
	loff_t pos = *ppos;
	void *kbuf;
	u32 seq;
	int ret;

	if (READ_ONCE(st->gone))
		return -ENODEV;
	if (pos < 0)
		return -EINVAL;
	if (pos >= PAGE_SIZE || !count)
		return 0;
	count = min_t(size_t, count, PAGE_SIZE - pos);

	kbuf = kmalloc(count, GFP_KERNEL);
	if (!kbuf)
		return -ENOMEM;

	ret = vmclock_snapshot(st, kbuf, pos, count, &seq,
			       VMCLOCK_READ_TIMEOUT_US);
	if (!ret && copy_to_user(buf, kbuf, count))
		ret = -EFAULT;
	kfree(kbuf);
	if (ret)
		return ret;

	atomic_set(&fst->seen_seq, seq);
	*ppos = pos + count;
	return count;
}

static int vmclock_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vmclock_file *fst = file->private_data;
	struct vmclock_state *st = fst->st;

	if (READ_ONCE(st->gone))
		return -ENODEV;
	/* Read-only, and readable: PROT_NONE is refused like PROT_WRITE. */
	if ((vma->vm_flags & (VM_READ | VM_WRITE)) != VM_READ)
		return -EROFS;
	if (vma->vm_end - vma->vm_start != PAGE_SIZE || vma->vm_pgoff)
		return -EINVAL;

	/* Else mprotect(PROT_WRITE) could make the page writable later. */
	vm_flags_clear(vma, VM_MAYWRITE);

	/*
	 * The page is RAM: keep the cached protection. io_remap_pfn_range()
	 * maps it decrypted in encrypted guests, like memremap(MEMREMAP_DEC).
	 */
	return io_remap_pfn_range(vma, vma->vm_start, PHYS_PFN(st->phys),
				  PAGE_SIZE, vma->vm_page_prot);
}

/* Readable while seq_count differs from what this file last read. */
static __poll_t vmclock_poll(struct file *file, poll_table *wait)
{
	struct vmclock_file *fst = file->private_data;
	struct vmclock_state *st = fst->st;

	if (READ_ONCE(st->gone))
		return EPOLLHUP | EPOLLERR;
	if (st->notify_mode == VMCLOCK_NOTIFY_NONE)
		return EPOLLHUP;

	poll_wait(file, &st->wait, wait);

	/* Unbind sets gone before waking us; we may have just missed it. */
	if (READ_ONCE(st->gone))
		return EPOLLHUP | EPOLLERR;
	if (vmclock_seq(st) != (u32)atomic_read(&fst->seen_seq))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

/*
 * No .llseek, as upstream: lseek() fails with ESPIPE, while pread() and
 * sequential read() use the file position.
 */
static const struct file_operations vmclock_fops = {
	.owner = THIS_MODULE,
	.open = vmclock_open,
	.release = vmclock_release,
	.read = vmclock_read,
	.mmap = vmclock_mmap,
	.poll = vmclock_poll,
};

/* ---- sysfs ---- */

static struct vmclock_state *dev_to_vmclock(struct device *dev)
{
	struct miscdevice *misc = dev_get_drvdata(dev);

	return container_of(misc, struct vmclock_state, miscdev);
}

static ssize_t vm_generation_counter_show(struct device *dev,
					  struct device_attribute *attr,
					  char *buf)
{
	struct vmclock_counters c;
	int ret;

	ret = vmclock_read_counters(dev_to_vmclock(dev), &c,
				    VMCLOCK_READ_TIMEOUT_US);
	if (ret)
		return ret;
	if (!c.has_gen)
		return -ENODATA;
	return sysfs_emit(buf, "%llu\n", c.gen);
}
static DEVICE_ATTR_RO(vm_generation_counter);

static ssize_t disruption_marker_show(struct device *dev,
				      struct device_attribute *attr, char *buf)
{
	struct vmclock_counters c;
	int ret;

	ret = vmclock_read_counters(dev_to_vmclock(dev), &c,
				    VMCLOCK_READ_TIMEOUT_US);
	if (ret)
		return ret;
	if (!c.has_marker)
		return -ENODATA;
	return sysfs_emit(buf, "%llu\n", c.marker);
}
static DEVICE_ATTR_RO(disruption_marker);

static ssize_t notifications_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	struct vmclock_state *st = dev_to_vmclock(dev);

	return sysfs_emit(buf, "%d\n",
			  st->notify_mode != VMCLOCK_NOTIFY_NONE);
}
static DEVICE_ATTR_RO(notifications);

static ssize_t notify_mode_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct vmclock_state *st = dev_to_vmclock(dev);

	return sysfs_emit(buf, "%s\n", vmclock_notify_names[st->notify_mode]);
}
static DEVICE_ATTR_RO(notify_mode);

static ssize_t events_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct vmclock_state *st = dev_to_vmclock(dev);

	return sysfs_emit(buf, "%llu\n", (u64)atomic64_read(&st->events));
}
static DEVICE_ATTR_RO(events);

static ssize_t last_notify_ns_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct vmclock_state *st = dev_to_vmclock(dev);

	return sysfs_emit(buf, "%llu\n",
			  (u64)atomic64_read(&st->last_notify_ns));
}
static DEVICE_ATTR_RO(last_notify_ns);

static struct attribute *vmclock_attrs[] = {
	&dev_attr_vm_generation_counter.attr,
	&dev_attr_disruption_marker.attr,
	&dev_attr_notifications.attr,
	&dev_attr_notify_mode.attr,
	&dev_attr_events.attr,
	&dev_attr_last_notify_ns.attr,
	NULL
};
ATTRIBUTE_GROUPS(vmclock);

/* ---- PTP clock ---- */

/*
 * As in the 7.0 driver, the PTP clock runs on TAI, so the page must give
 * TAI, or UTC with a valid offset to convert it: plain UTC is ambiguous
 * around leap seconds.
 */
static bool vmclock_time_unambiguous(const struct vmclock_abi *abi)
{
	if (abi->time_type == VMCLOCK_TIME_TAI)
		return true;
	return abi->time_type == VMCLOCK_TIME_UTC &&
	       (le64_to_cpu(abi->flags) & VMCLOCK_FLAG_TAI_OFFSET_VALID);
}

/* Whether the page describes a clock this CPU's counter can read. */
static bool vmclock_ptp_usable(const struct vmclock_state *st,
			       const struct vmclock_abi *abi)
{
	/* INVALID never matches, also where there is no native counter. */
	if (abi->counter_id == VMCLOCK_COUNTER_INVALID ||
	    abi->counter_id != VMCLOCK_NATIVE_COUNTER)
		return false;
	if (!VMCLOCK_HAS_FIELD(st, time_frac_sec))
		return false;
	return vmclock_time_unambiguous(abi);
}

/*
 * time = time_sec + time_frac_sec / 2^64
 *        + (cycles - counter_value) * counter_period_frac_sec / 2^(64 + shift)
 * converted to TAI (tai_offset_sec is UTC minus TAI).
 */
static void vmclock_time_at(const struct vmclock_abi *abi, u64 cycles,
			    struct timespec64 *ts)
{
	u64 delta = cycles - le64_to_cpu(abi->counter_value);
	u64 period = le64_to_cpu(abi->counter_period_frac_sec);
	unsigned int shift = abi->counter_period_shift;
	u64 hi, lo, frac;

	/* A reading just before counter_value (get_cycles() is unordered). */
	if ((s64)delta < 0)
		delta = 0;

	/* The 128-bit product, in units of 2^-(64 + shift) s ... */
	hi = mul_u64_u64_shr(delta, period, 64);
	lo = delta * period;
	/* ... scaled to 2^-64 s: hi is now whole seconds, lo the fraction. */
	if (shift >= 128) {
		hi = 0;
		lo = 0;
	} else if (shift >= 64) {
		lo = hi >> (shift - 64);
		hi = 0;
	} else if (shift) {
		lo = (lo >> shift) | (hi << (64 - shift));
		hi >>= shift;
	}

	frac = le64_to_cpu(abi->time_frac_sec) + lo;
	ts->tv_sec = le64_to_cpu(abi->time_sec) + hi + (frac < lo);
	if (abi->time_type == VMCLOCK_TIME_UTC)
		ts->tv_sec -= (s16)le16_to_cpu(abi->tai_offset_sec);
	ts->tv_nsec = mul_u64_u64_shr(frac, NSEC_PER_SEC, 64);
}

static int vmclock_ptp_gettimex(struct ptp_clock_info *info,
				struct timespec64 *ts,
				struct ptp_system_timestamp *sts)
{
	struct vmclock_state *st = container_of(info, struct vmclock_state,
						ptp_info);
	ktime_t deadline = ktime_add_ms(ktime_get(), VMCLOCK_READ_TIMEOUT_MS);
	struct vmclock_abi abi;
	u64 cycles;
	u32 seq;

	memset(&abi, 0, sizeof(abi));
	for (;;) {
		seq = vmclock_read_begin(st);
		/* Registered only if the page holds this much. */
		memcpy(&abi, st->clk,
		       offsetofend(struct vmclock_abi, time_frac_sec));
		ptp_read_system_prets(sts);
		cycles = get_cycles();
		ptp_read_system_postts(sts);
		if (!vmclock_read_retry(st, seq))
			break;
		if (ktime_after(ktime_get(), deadline))
			return -ETIMEDOUT;
		cpu_relax();
	}

	/* The host may have withdrawn the clock since probe. */
	if (!vmclock_ptp_usable(st, &abi))
		return -EIO;
	vmclock_time_at(&abi, cycles, ts);
	return 0;
}

/* The host owns the clock: it cannot be steered from the guest. */
static int vmclock_ptp_adjfine(struct ptp_clock_info *info, long scaled_ppm)
{
	return -EOPNOTSUPP;
}

static int vmclock_ptp_adjtime(struct ptp_clock_info *info, s64 delta)
{
	return -EOPNOTSUPP;
}

static int vmclock_ptp_settime(struct ptp_clock_info *info,
			       const struct timespec64 *ts)
{
	return -EOPNOTSUPP;
}

static int vmclock_ptp_enable(struct ptp_clock_info *info,
			      struct ptp_clock_request *rq, int on)
{
	return -EOPNOTSUPP;
}

static const struct ptp_clock_info vmclock_ptp_info = {
	.owner = THIS_MODULE,
	.name = "vmclock",
	.adjfine = vmclock_ptp_adjfine,
	.adjtime = vmclock_ptp_adjtime,
	.gettimex64 = vmclock_ptp_gettimex,
	.settime64 = vmclock_ptp_settime,
	.enable = vmclock_ptp_enable,
};

/* Failure is not fatal: /dev/vmclockN works without the PTP clock. */
static void vmclock_register_ptp(struct vmclock_state *st, struct device *dev,
				 const struct vmclock_abi *abi)
{
	struct ptp_clock *ptp;

	if (!IS_REACHABLE(CONFIG_PTP_1588_CLOCK) ||
	    !vmclock_ptp_usable(st, abi)) {
		/* Same words as the 7.0 driver, for whoever greps for them. */
		if (abi->counter_id == VMCLOCK_NATIVE_COUNTER &&
		    !vmclock_time_unambiguous(abi))
			dev_info(dev, "vmclock does not provide unambiguous time\n");
		return;
	}

	st->ptp_info = vmclock_ptp_info;
	if (st->name[0])
		strscpy(st->ptp_info.name, st->name, sizeof(st->ptp_info.name));
	ptp = ptp_clock_register(&st->ptp_info, dev);
	if (IS_ERR_OR_NULL(ptp)) {
		dev_warn(dev, "PTP clock not registered (%ld)\n",
			 PTR_ERR(ptp));
		return;
	}
	st->ptp = ptp;
}

/* ---- platform driver ---- */

/* Unbind, or a failed probe: undoes whatever probe got done, in reverse. */
static void vmclock_teardown(void *data)
{
	struct vmclock_state *st = data;

	vmclock_stop_notify(st);

	/* From here open files get -ENODEV from read(), EPOLLHUP from poll(). */
	WRITE_ONCE(st->gone, true);
	wake_up_all(&st->wait);

	if (st->ptp)
		ptp_clock_unregister(st->ptp);
	if (st->misc_registered)
		misc_deregister(&st->miscdev);
	if (st->index >= 0)
		ida_free(&vmclock_ida, st->index);
	kref_put(&st->refcount, vmclock_free);
}

/* The static header, checked before anything else looks at the page. */
static int vmclock_check_header(struct device *dev,
				const struct vmclock_abi *clk,
				resource_size_t region)
{
	u32 magic = le32_to_cpu(clk->magic);
	u32 size = le32_to_cpu(clk->size);
	u16 version = le16_to_cpu(clk->version);

	if (magic != VMCLOCK_MAGIC) {
		dev_err(dev, "bad magic 0x%08x (expected 0x%08x)\n",
			magic, VMCLOCK_MAGIC);
		return -EINVAL;
	}
	if (size > region) {
		dev_err(dev, "bad size 0x%x (larger than the 0x%llx-byte region)\n",
			size, (unsigned long long)region);
		return -EINVAL;
	}
	if (version != 1) {
		dev_err(dev, "bad version %u (expected 1)\n", version);
		return -EINVAL;
	}
	return 0;
}

static int vmclock_register_misc(struct vmclock_state *st, struct device *dev)
{
	int ret;

	st->miscdev.minor = MISC_DYNAMIC_MINOR;
	st->miscdev.name = st->name;
	st->miscdev.fops = &vmclock_fops;
	st->miscdev.parent = dev;
	st->miscdev.groups = vmclock_groups;
	/* No .mode: the node is 0600 as upstream; udev rules relax it. */

	ret = misc_register(&st->miscdev);
	if (ret)
		return ret;
	/* Pairs with the acquire in vmclock_notify_work(). */
	smp_store_release(&st->misc_registered, true);
	return 0;
}

static int vmclock_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct vmclock_counters counters;
	struct vmclock_state *st;
	struct vmclock_abi abi;
	struct vmclock_abi *clk;
	struct resource *res;
	int ret;

	res = platform_get_resource(pdev, IORESOURCE_MEM, 0);
	if (!res) {
		dev_err(dev, "no memory region\n");
		return -ENODEV;
	}
	if (resource_size(res) < VMCLOCK_MIN_REGION) {
		dev_err(dev, "region %pR too small (need at least 0x%x bytes)\n",
			res, VMCLOCK_MIN_REGION);
		return -EINVAL;
	}

	clk = memremap(res->start, resource_size(res),
		       MEMREMAP_WB | VMGEN_MEMREMAP_DEC);
	if (!clk) {
		dev_err(dev, "cannot map %pR\n", res);
		return -ENOMEM;
	}
	ret = vmclock_check_header(dev, clk, resource_size(res));
	if (ret) {
		memunmap(clk);
		return ret;
	}

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st) {
		memunmap(clk);
		return -ENOMEM;
	}
	kref_init(&st->refcount);
	st->dev = dev;
	st->clk = clk;
	st->phys = res->start;
	st->size = le32_to_cpu(clk->size);
	st->index = -1;
	init_waitqueue_head(&st->wait);
	INIT_DELAYED_WORK(&st->notify_work, vmclock_notify_work);
	INIT_DELAYED_WORK(&st->watch_work, vmclock_watch_work);
	atomic64_set(&st->events, 0);
	atomic64_set(&st->last_notify_ns, 0);

	/* From here on, vmclock_teardown() cleans up, on failure or unbind. */
	ret = devm_add_action_or_reset(dev, vmclock_teardown, st);
	if (ret)
		return ret;
	/* Set before any notification handler can run. */
	platform_set_drvdata(pdev, st);

	if (vmclock_snapshot_abi(st, &abi, VMCLOCK_READ_TIMEOUT_US)) {
		/* Still bind, as upstream: read() reports the timeout. */
		dev_warn(dev, "page stays mid-update (seq_count 0x%x)\n",
			 vmclock_seq(st));
		memset(&abi, 0, sizeof(abi));
		memcpy(&abi, clk, min_t(size_t, st->size, sizeof(abi)));
	}
	vmclock_counters_from(st, &abi, &counters);
	st->seen_marker = counters.marker;
	st->seen_gen = counters.gen;

	/* As upstream, no device node for a region smaller than a page. */
	if (st->size >= PAGE_SIZE) {
		ret = ida_alloc(&vmclock_ida, GFP_KERNEL);
		if (ret < 0)
			return ret;
		st->index = ret;
		snprintf(st->name, sizeof(st->name), "vmclock%d", st->index);

		ret = vmclock_start_notify(st, pdev, le64_to_cpu(abi.flags));
		if (ret)
			return ret;
		ret = vmclock_register_misc(st, dev);
		if (ret) {
			dev_err(dev, "cannot register /dev/%s (%d)\n",
				st->name, ret);
			return ret;
		}
		/* Catch up with a notification that came in meanwhile. */
		if (atomic64_read(&st->events))
			schedule_delayed_work(&st->notify_work, 0);
	}

	vmclock_register_ptp(st, dev, &abi);

	if (st->misc_registered)
		dev_info(dev, "/dev/%s for %pR, notify %s, %s\n", st->name, res,
			 vmclock_notify_names[st->notify_mode],
			 st->ptp ? "PTP clock" : "no PTP clock");
	else
		dev_info(dev, "%pR has size 0x%x, too small for /dev/vmclock; %s\n",
			 res, st->size, st->ptp ? "PTP clock only" : "no PTP clock");
	return 0;
}

static const struct acpi_device_id vmclock_acpi_ids[] = {
	{ "AMZNC10C", 0 },
	{ "VMCLOCK", 0 },
	{ }
};
MODULE_DEVICE_TABLE(acpi, vmclock_acpi_ids);

static const struct of_device_id vmclock_of_ids[] = {
	{ .compatible = "amazon,vmclock" },
	{ }
};
MODULE_DEVICE_TABLE(of, vmclock_of_ids);

/* No .remove: vmclock_teardown() runs as a devm action on unbind. */
static struct platform_driver vmclock_driver = {
	.probe = vmclock_probe,
	.driver = {
		.name = "vmgen_vmclock",
		.acpi_match_table = vmclock_acpi_ids,
		.of_match_table = vmclock_of_ids,
	},
};

static int __init vmclock_init(void)
{
	if (VMGEN_KERNEL_VMCLOCK_NOTIFIES && !force_bind) {
		pr_info("this kernel's own ptp_vmclock provides notifications and poll(); use it (vmgen_vmclock stays out of its way)\n");
		return -ENODEV;
	}
	return platform_driver_register(&vmclock_driver);
}
module_init(vmclock_init);

static void __exit vmclock_exit(void)
{
	platform_driver_unregister(&vmclock_driver);
}
module_exit(vmclock_exit);

MODULE_DESCRIPTION("VMClock device: /dev/vmclockN with notifications, sysfs and uevents");
MODULE_LICENSE("GPL");
