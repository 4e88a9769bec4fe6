// SPDX-License-Identifier: GPL-2.0
/*
 * vmgen_vmgenid: VM Generation ID changes as uevents and a pollable counter.
 *
 * Upstream Linux feeds VMGenID changes to its RNG but tells userspace
 * nothing. This module counts every change in a 64-bit generation, sends a
 * KOBJ_CHANGE uevent for it and exposes the counter through /dev/vmgenid
 * (read, poll) and sysfs. The 16-byte ID itself never leaves the kernel.
 *
 * Two modes, fixed by the kernel's configuration:
 *  - observer: the kernel's own vmgenid driver (CONFIG_VMGENID) owns the
 *    device and reseeds the RNG; the module listens on its vmfork notifier
 *    chain, which runs only on real changes.
 *  - driver: no such driver; the module binds the ACPI or DT device itself,
 *    filters notifications that carry no new ID and mixes the new ID into
 *    the RNG before reporting the change.
 */

#include <linux/acpi.h>
#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/kobject.h>
#include <linux/miscdevice.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/of.h>
#include <linux/platform_device.h>
#include <linux/poll.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <vmgen/vmgenid.h>

#define VMGENID_ID_SIZE	16

static const struct acpi_device_id vmgenid_acpi_ids[] = {
	{ "VMGENCTR", 0 },	/* _HID of Firecracker >= 1.16 */
	{ "FCVMGID", 0 },	/* _HID of older Firecracker */
	{ "QEMUVGID", 0 },	/* _HID of QEMU */
	/*
	 * The _CID of all of them, "VM_Gen_Counter", as ACPICA hands it to
	 * Linux (upper-cased; Linux compares ids case-sensitively). Where
	 * ACPI ids are limited to 8 characters the _HIDs above do the job.
	 */
#if ACPI_ID_LEN > 14
	{ "VM_GEN_COUNTER", 0 },
#endif
	{ }
};
MODULE_DEVICE_TABLE(acpi, vmgenid_acpi_ids);

static const struct of_device_id vmgenid_of_ids[] = {
	{ .compatible = "microsoft,vmgenid" },
	{ }
};
MODULE_DEVICE_TABLE(of, vmgenid_of_ids);

/*
 * A VM has one generation ID, so the state is module-wide.
 * vmgenid_lock pairs each generation bump with its timestamp (and, in
 * driver mode, guards the copy of the last ID); it is taken from hard IRQ.
 */
static DEFINE_SPINLOCK(vmgenid_lock);
static atomic64_t vmgenid_generation = ATOMIC64_INIT(0);
static u64 vmgenid_last_notify_ns;
static DECLARE_WAIT_QUEUE_HEAD(vmgenid_waitq);

static void vmgenid_report(struct work_struct *work);
static DECLARE_WORK(vmgenid_report_work, vmgenid_report);
static u64 vmgenid_reported;	/* only touched by vmgenid_report() */

static struct miscdevice vmgenid_misc;

/*
 * Counts one real change. Runs in the notification path, possibly in hard
 * IRQ: everything that may sleep is left to vmgenid_report(). Every change
 * is counted here, so the generation never skips even when reports coalesce.
 */
static void vmgenid_record_change(u64 notify_ns)
{
	unsigned long flags;

	spin_lock_irqsave(&vmgenid_lock, flags);
	atomic64_inc(&vmgenid_generation);
	/* Keep it monotonic should two notifications race. */
	if (notify_ns > vmgenid_last_notify_ns)
		vmgenid_last_notify_ns = notify_ns;
	spin_unlock_irqrestore(&vmgenid_lock, flags);

	wake_up_interruptible_poll(&vmgenid_waitq, EPOLLIN | EPOLLRDNORM);
	schedule_work(&vmgenid_report_work);
}

static void vmgenid_read_state(u64 *generation, u64 *notify_ns)
{
	unsigned long flags;

	spin_lock_irqsave(&vmgenid_lock, flags);
	*generation = atomic64_read(&vmgenid_generation);
	*notify_ns = vmgenid_last_notify_ns;
	spin_unlock_irqrestore(&vmgenid_lock, flags);
}

/* Tells udev and sysfs pollers about the latest change. */
static void vmgenid_report(struct work_struct *work)
{
	struct kobject *kobj = &vmgenid_misc.this_device->kobj;
	char generation_env[48], notify_ns_env[48];
	char *envp[4];
	u64 generation, notify_ns;
	int ret;

	vmgenid_read_state(&generation, &notify_ns);
	/* A run queued while the previous one ran may find nothing new. */
	if (generation == vmgenid_reported)
		return;
	vmgenid_reported = generation;

	snprintf(generation_env, sizeof(generation_env),
		 VMGENID_UEVENT_GENERATION "=%llu", generation);
	snprintf(notify_ns_env, sizeof(notify_ns_env),
		 VMGENID_UEVENT_NOTIFY_NS "=%llu", notify_ns);
	envp[0] = VMGENID_UEVENT_NEW "=1";
	envp[1] = generation_env;
	envp[2] = notify_ns_env;
	envp[3] = NULL;
	ret = kobject_uevent_env(kobj, KOBJ_CHANGE, envp);
	if (ret)
		pr_warn_ratelimited("uevent for generation %llu failed: %d\n",
				    generation, ret);
	sysfs_notify(kobj, NULL, VMGENID_ATTR_GENERATION);
}

/* How this kernel lets the module see changes; one instance is built. */
struct vmgenid_mode_ops {
	const char *name;		/* sysfs "mode" */
	const char *rng_reseed;		/* sysfs "rng_reseed" */
	int (*attach)(void);
	void (*detach)(void);
};

#if IS_ENABLED(CONFIG_VMGENID) && !defined(VMGEN_HAVE_VMFORK_NOTIFIER)
/*
 * The kernel's driver owns the device but this kernel predates the vmfork
 * notifier chain: nothing to observe, and binding the device as well would
 * fight that driver.
 */
#error "this kernel's vmgenid driver owns the device and offers no vmfork notifier to observe it"
#endif

#if IS_ENABLED(CONFIG_VMGENID)

/*
 * The kernel's driver calls the chain right after add_vmfork_randomness()
 * has reseeded the CRNG, and only for an ID that changed. On the DT path
 * this runs in hard IRQ.
 */
static int vmgenid_vmfork_notify(struct notifier_block *nb,
				 unsigned long action, void *data)
{
	vmgenid_record_change(ktime_get_ns());
	return NOTIFY_DONE;
}

static struct notifier_block vmgenid_vmfork_nb = {
	.notifier_call = vmgenid_vmfork_notify,
};

static int vmgenid_observer_attach(void)
{
	int ret;

	ret = register_random_vmfork_notifier(&vmgenid_vmfork_nb);
	if (ret)
		return ret;
	pr_info("observing the kernel's vmgenid driver via the vmfork notifier (RNG: reseeded by the kernel)\n");
	return 0;
}

static void vmgenid_observer_detach(void)
{
	unregister_random_vmfork_notifier(&vmgenid_vmfork_nb);
}

static const struct vmgenid_mode_ops vmgenid_mode = {
	.name = VMGENID_MODE_OBSERVER,
	.rng_reseed = VMGENID_RNG_RESEED_IMMEDIATE,
	.attach = vmgenid_observer_attach,
	.detach = vmgenid_observer_detach,
};

#else /* !CONFIG_VMGENID: driver mode */

/*
 * add_vmfork_randomness() is built only with CONFIG_VMGENID (and exported
 * only when that is a module), so here the ID can only be mixed in with
 * add_device_randomness(); the CRNG takes it at its next reseed.
 */

static atomic64_t vmgenid_spurious = ATOMIC64_INIT(0);
static atomic_t vmgenid_bound = ATOMIC_INIT(0);

struct vmgenid_device {
	const u8 *live_id;		/* the device's ID, mapped */
	u8 last_id[VMGENID_ID_SIZE];	/* under vmgenid_lock */
#ifdef CONFIG_ACPI
	acpi_handle handle;
#endif
};

/* A notification: see whether the ID changed. Any context up to hard IRQ. */
static void vmgenid_check(struct vmgenid_device *vd)
{
	u64 notify_ns = ktime_get_ns();
	u8 id[VMGENID_ID_SIZE];
	unsigned long flags;
	bool changed;

	spin_lock_irqsave(&vmgenid_lock, flags);
	memcpy(id, vd->live_id, sizeof(id));
	changed = memcmp(id, vd->last_id, sizeof(id)) != 0;
	if (changed)
		memcpy(vd->last_id, id, sizeof(id));
	spin_unlock_irqrestore(&vmgenid_lock, flags);

	if (changed) {
		/* The RNG gets the new ID before userspace hears of it. */
		add_device_randomness(id, sizeof(id));
		vmgenid_record_change(notify_ns);
	} else {
		atomic64_inc(&vmgenid_spurious);
	}
	memzero_explicit(id, sizeof(id));
}

static void vmgenid_take_first_id(struct vmgenid_device *vd)
{
	memcpy(vd->last_id, vd->live_id, sizeof(vd->last_id));
	add_device_randomness(vd->last_id, sizeof(vd->last_id));
}

#ifdef CONFIG_ACPI
static void vmgenid_acpi_notify(acpi_handle handle, u32 event, void *data)
{
	/* Hosts send 0x80; like upstream, any notify means "look again". */
	vmgenid_check(data);
}

static void vmgenid_acpi_unhook(void *data)
{
	struct vmgenid_device *vd = data;

	/* Also waits for notify handlers already queued or running. */
	acpi_remove_notify_handler(vd->handle, ACPI_DEVICE_NOTIFY,
				   vmgenid_acpi_notify);
}

/* ADDR returns a Package of the low and high 32 bits of the ID's address. */
static int vmgenid_acpi_id_addr(struct device *dev, acpi_handle handle,
				u64 *addr)
{
	struct acpi_buffer buf = { ACPI_ALLOCATE_BUFFER, NULL };
	union acpi_object *obj, *elem;
	acpi_status status;
	int ret = -EINVAL;

	status = acpi_evaluate_object(handle, "ADDR", NULL, &buf);
	if (ACPI_FAILURE(status)) {
		dev_err(dev, "evaluating ADDR failed: %s\n",
			acpi_format_exception(status));
		return -ENODEV;
	}

	obj = buf.pointer;
	if (obj && obj->type == ACPI_TYPE_PACKAGE && obj->package.count == 2) {
		elem = obj->package.elements;
		if (elem[0].type == ACPI_TYPE_INTEGER &&
		    elem[1].type == ACPI_TYPE_INTEGER) {
			*addr = (u64)lower_32_bits(elem[1].integer.value) << 32 |
				lower_32_bits(elem[0].integer.value);
			ret = *addr ? 0 : -EINVAL;
		}
	}
	if (ret)
		dev_err(dev, "ADDR is not a package of two integers giving an address\n");

	kfree(buf.pointer);
	return ret;
}

static int vmgenid_acpi_attach(struct platform_device *pdev,
			       struct vmgenid_device *vd)
{
	struct device *dev = &pdev->dev;
	acpi_status status;
	void *live_id;
	u64 addr;
	int ret;

	vd->handle = ACPI_HANDLE(dev);
	ret = vmgenid_acpi_id_addr(dev, vd->handle, &addr);
	if (ret)
		return ret;

	live_id = devm_memremap(dev, addr, VMGENID_ID_SIZE, MEMREMAP_WB);
	if (IS_ERR(live_id))
		return PTR_ERR(live_id);
	vd->live_id = live_id;
	vmgenid_take_first_id(vd);

	status = acpi_install_notify_handler(vd->handle, ACPI_DEVICE_NOTIFY,
					     vmgenid_acpi_notify, vd);
	if (ACPI_FAILURE(status)) {
		dev_err(dev, "installing the notify handler failed: %s\n",
			acpi_format_exception(status));
		return -ENODEV;
	}
	return devm_add_action_or_reset(dev, vmgenid_acpi_unhook, vd);
}
#else
static int vmgenid_acpi_attach(struct platform_device *pdev,
			       struct vmgenid_device *vd)
{
	return -ENODEV;
}
#endif /* CONFIG_ACPI */

static irqreturn_t vmgenid_irq(int irq, void *data)
{
	vmgenid_check(data);
	/* The device has no status to tell whether the shared line was ours. */
	return IRQ_HANDLED;
}

/* DT: reg is the 16-byte ID itself, the interrupt signals a change. */
static int vmgenid_of_attach(struct platform_device *pdev,
			     struct vmgenid_device *vd)
{
	struct device *dev = &pdev->dev;
	struct resource *res;
	void *live_id;
	int irq;

	res = platform_get_resource(pdev, IORESOURCE_MEM, 0);
	if (!res || resource_size(res) < VMGENID_ID_SIZE) {
		dev_err(dev, "no 16-byte reg for the ID\n");
		return -EINVAL;
	}
	live_id = devm_memremap(dev, res->start, VMGENID_ID_SIZE, MEMREMAP_WB);
	if (IS_ERR(live_id))
		return PTR_ERR(live_id);
	vd->live_id = live_id;
	vmgenid_take_first_id(vd);

	irq = platform_get_irq(pdev, 0);
	if (irq < 0)
		return irq;
	return devm_request_irq(dev, irq, vmgenid_irq, IRQF_SHARED,
				KBUILD_MODNAME, vd);
}

static void vmgenid_wipe(void *data)
{
	struct vmgenid_device *vd = data;

	memzero_explicit(vd->last_id, sizeof(vd->last_id));
}

static void vmgenid_unclaim(void *unused)
{
	atomic_set(&vmgenid_bound, 0);
}

/*
 * Everything is device-managed and released in reverse order: the
 * notification source goes first, then the mapping, then the ID copy is
 * wiped, so no .remove callback is needed.
 */
static int vmgenid_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct vmgenid_device *vd;
	bool acpi = has_acpi_companion(dev);
	int ret;

	if (atomic_cmpxchg(&vmgenid_bound, 0, 1)) {
		dev_warn(dev, "another VMGenID device is already bound\n");
		return -EBUSY;
	}
	ret = devm_add_action_or_reset(dev, vmgenid_unclaim, NULL);
	if (ret)
		return ret;

	vd = devm_kzalloc(dev, sizeof(*vd), GFP_KERNEL);
	if (!vd)
		return -ENOMEM;
	ret = devm_add_action_or_reset(dev, vmgenid_wipe, vd);
	if (ret)
		return ret;

	if (acpi)
		ret = vmgenid_acpi_attach(pdev, vd);
	else
		ret = vmgenid_of_attach(pdev, vd);
	if (ret)
		return ret;

	pr_info("bound to %s device %s (RNG: new IDs mixed in, no forced reseed on this kernel)\n",
		acpi ? "ACPI" : "DT", dev_name(dev));
	return 0;
}

static struct platform_driver vmgenid_driver = {
	.probe = vmgenid_probe,
	.driver = {
		.name = KBUILD_MODNAME,
		.acpi_match_table = vmgenid_acpi_ids,
		.of_match_table = vmgenid_of_ids,
		/* Module init needs to know whether the device was bound. */
		.probe_type = PROBE_FORCE_SYNCHRONOUS,
		.suppress_bind_attrs = true,
	},
};

static int vmgenid_driver_attach(void)
{
	int ret;

	ret = platform_driver_register(&vmgenid_driver);
	if (ret)
		return ret;
	if (!atomic_read(&vmgenid_bound)) {
		pr_err("could not bind the VMGenID device\n");
		platform_driver_unregister(&vmgenid_driver);
		return -ENODEV;
	}
	return 0;
}

static void vmgenid_driver_detach(void)
{
	platform_driver_unregister(&vmgenid_driver);
}

static const struct vmgenid_mode_ops vmgenid_mode = {
	.name = VMGENID_MODE_DRIVER,
	.rng_reseed = VMGENID_RNG_RESEED_MIX_ONLY,
	.attach = vmgenid_driver_attach,
	.detach = vmgenid_driver_detach,
};

#endif /* CONFIG_VMGENID */

/* sysfs: attribute names are those of <vmgen/vmgenid.h>. */
static ssize_t generation_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  (u64)atomic64_read(&vmgenid_generation));
}
static DEVICE_ATTR_RO(generation);

static ssize_t last_notify_ns_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	u64 generation, notify_ns;

	vmgenid_read_state(&generation, &notify_ns);
	return sysfs_emit(buf, "%llu\n", notify_ns);
}
static DEVICE_ATTR_RO(last_notify_ns);

static ssize_t mode_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", vmgenid_mode.name);
}
static DEVICE_ATTR_RO(mode);

static ssize_t rng_reseed_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", vmgenid_mode.rng_reseed);
}
static DEVICE_ATTR_RO(rng_reseed);

#if !IS_ENABLED(CONFIG_VMGENID)	/* driver mode */
static ssize_t spurious_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", (u64)atomic64_read(&vmgenid_spurious));
}
static DEVICE_ATTR_RO(spurious);
#endif

static struct attribute *vmgenid_attrs[] = {
	&dev_attr_generation.attr,
	&dev_attr_last_notify_ns.attr,
	&dev_attr_mode.attr,
	&dev_attr_rng_reseed.attr,
#if !IS_ENABLED(CONFIG_VMGENID)
	&dev_attr_spurious.attr,
#endif
	NULL
};
ATTRIBUTE_GROUPS(vmgenid);

/* /dev/vmgenid: the generation, and poll() for its next change. */
struct vmgenid_file {
	atomic64_t seen;	/* generation last read on this file */
};

static int vmgenid_open(struct inode *inode, struct file *file)
{
	struct vmgenid_file *vf;

	vf = kzalloc(sizeof(*vf), GFP_KERNEL);
	if (!vf)
		return -ENOMEM;
	/* What was current at open counts as seen: poll waits for a change. */
	atomic64_set(&vf->seen, atomic64_read(&vmgenid_generation));
	file->private_data = vf;
	return 0;
}

static int vmgenid_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

/* Like an eventfd counter, every read returns it: the position is unused. */
static ssize_t vmgenid_read(struct file *file, char __user *buf,
			    size_t count, loff_t *ppos)
{
	struct vmgenid_file *vf = file->private_data;
	u64 generation;

	if (count < sizeof(generation))
		return -EINVAL;
	generation = atomic64_read(&vmgenid_generation);
	if (copy_to_user(buf, &generation, sizeof(generation)))
		return -EFAULT;
	atomic64_set(&vf->seen, generation);
	return sizeof(generation);
}

static __poll_t vmgenid_poll(struct file *file, poll_table *wait)
{
	struct vmgenid_file *vf = file->private_data;

	poll_wait(file, &vmgenid_waitq, wait);
	if (atomic64_read(&vmgenid_generation) != atomic64_read(&vf->seen))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static const struct file_operations vmgenid_fops = {
	.owner = THIS_MODULE,
	.open = vmgenid_open,
	.release = vmgenid_release,
	.read = vmgenid_read,
	.poll = vmgenid_poll,
};

static struct miscdevice vmgenid_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = VMGENID_DEVICE_NAME,
	.fops = &vmgenid_fops,
	.groups = vmgenid_groups,
	/* Only a counter: safe for everyone to read and poll. */
	.mode = 0444,
};

/* Whether firmware describes a VMGenID at all, whoever drives it. */
static bool vmgenid_device_present(void)
{
	const struct acpi_device_id *id;
	struct device_node *np;
	bool available;

	for (id = vmgenid_acpi_ids; id->id[0]; id++)
		if (acpi_dev_present((const char *)id->id, NULL, -1))
			return true;

	np = of_find_matching_node(NULL, vmgenid_of_ids);
	available = np && of_device_is_available(np);
	of_node_put(np);
	return available;
}

static int __init vmgenid_init(void)
{
	int ret;

	if (!vmgenid_device_present()) {
		pr_info("no VMGenID device\n");
		return -ENODEV;
	}

	/* The device node exists before the first change can be reported. */
	ret = misc_register(&vmgenid_misc);
	if (ret)
		return ret;

	ret = vmgenid_mode.attach();
	if (ret) {
		cancel_work_sync(&vmgenid_report_work);
		misc_deregister(&vmgenid_misc);
	}
	return ret;
}

static void __exit vmgenid_exit(void)
{
	/* Stop notifications, then the report they queued, then the node. */
	vmgenid_mode.detach();
	cancel_work_sync(&vmgenid_report_work);
	misc_deregister(&vmgenid_misc);
}

module_init(vmgenid_init);
module_exit(vmgenid_exit);

MODULE_DESCRIPTION("VM Generation ID changes as uevents and a pollable counter");
MODULE_LICENSE("GPL");
