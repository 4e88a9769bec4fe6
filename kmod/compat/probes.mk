# SPDX-License-Identifier: GPL-2.0
#
# Feature probes against the kernel tree being built for. Each probe tests
# for the feature itself (a header, a symbol), never a version number, and
# turns it into a -DVMGEN_HAVE_* define that compat.h acts on.

vmgen_hdr = $(wildcard $(srctree)/include/$(1) $(objtree)/include/$(1))
vmgen_grep = $(shell grep -qsE '$(2)' $(call vmgen_hdr,$(1)) && echo y)
