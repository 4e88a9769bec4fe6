# SPDX-License-Identifier: GPL-2.0
#
# Feature probes against the kernel tree being built for. Each probe tests
# for the feature itself (a header, a symbol), never a version number, and
# turns it into a -DVMGEN_HAVE_* define that compat.h acts on.

vmgen_hdr = $(wildcard $(srctree)/include/$(1) $(objtree)/include/$(1))
vmgen_grep = $(shell grep -qsE '$(2)' $(call vmgen_hdr,$(1)) && echo y)

# --- vmgen_vmclock { ---
# vmgen_grep reads stdin when the header is missing, so guard it.
vmgen_vmclock_grep = $(if $(call vmgen_hdr,$(1)),$(call vmgen_grep,$(1),$(2)))

# 6.3+: vma->vm_flags may only be changed through vm_flags_set/clear().
ifeq ($(call vmgen_vmclock_grep,linux/mm.h,void vm_flags_clear),y)
ccflags-y += -DVMGEN_HAVE_VM_FLAGS_CLEAR
endif

# memremap() flag for pages shared with the host in encrypted guests.
ifeq ($(call vmgen_vmclock_grep,linux/io.h,MEMREMAP_DEC),y)
ccflags-y += -DVMGEN_HAVE_MEMREMAP_DEC
endif

# The kernel's own VMClock ABI header knows about host notifications (7.0+).
# Together with CONFIG_PTP_1588_CLOCK_VMCLOCK (tested in compat.h), that means
# the kernel's ptp_vmclock already does what vmgen_vmclock exists for.
ifeq ($(call vmgen_vmclock_grep,uapi/linux/vmclock-abi.h,VMCLOCK_FLAG_NOTIFICATION_PRESENT),y)
ccflags-y += -DVMGEN_HAVE_KERNEL_VMCLOCK_NOTIFY
ifeq ($(shell grep -qsE '^#define CONFIG_PTP_1588_CLOCK_VMCLOCK(_MODULE)? 1' \
	$(objtree)/include/generated/autoconf.h </dev/null && echo y),y)
$(warning vmgen_vmclock: this kernel's own ptp_vmclock provides notifications and poll(); the module builds but will not bind unless loaded with force_bind=1)
endif
endif
# --- } vmgen_vmclock ---

# --- vmgen_vmgenid { ---
# random.h declares register_random_vmfork_notifier(); compat.h adds
# the CONFIG_VMGENID condition under which it is actually built.
ifeq ($(if $(call vmgen_hdr,linux/random.h),$(call vmgen_grep,linux/random.h,register_random_vmfork_notifier)),y)
ccflags-y += -DVMGEN_HAVE_VMFORK_NOTIFIER_DECL
endif
# --- } vmgen_vmgenid ---
