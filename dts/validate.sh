#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the device-tree side of vmgen, as the kernel's dt_binding_check and
# dtbs_check would:
#   - the bindings in dts/bindings/ against dt-schema's meta-schema
#     (dt-doc-validate);
#   - one processed schema from those bindings plus dt-schema's core schemas
#     (dt-mk-schema);
#   - each binding's own examples, extracted (dt-extract-example), compiled
#     and validated (dt-validate), plus a few broken nodes that must fail;
#   - every dts/*.dts compiled with dtc -@ and validated;
#   - every dts/*.dtso compiled with dtc -@, applied with fdtoverlay onto each
#     dts/*.dts and onto a minimal built-in base, and every result validated.
# A file may use #include: it then goes through cpp, with dts/ and the
# kernel's include/dt-bindings (from Debian's linux-source) on the path.
#
# Needs device-tree-compiler and dt-schema (selftests/rig/setup-host.sh).
# TAP output; exit status 1 if any test failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
bindings=$here/bindings
# Our compatibles and the schema each must match.
declare -A schema_of=(
	["amazon,vmclock"]="http://devicetree.org/schemas/amazon,vmclock.yaml#"
	["microsoft,vmgenid"]="http://devicetree.org/schemas/microsoft,vmgenid.yaml#"
)

tmp=$(mktemp -d /tmp/vmgen-dts.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# tap, skip, $n and $failed
. "$here/../selftests/lib/tap.sh"

for t in dtc fdtoverlay dt-doc-validate dt-mk-schema dt-extract-example dt-validate; do
	if ! command -v "$t" >/dev/null; then
		tap 1 "tools: $t installed" \
			"install device-tree-compiler and dt-schema (selftests/rig/setup-host.sh)"
		finish
	fi
done

# The kernel's include/dt-bindings, for sources that #include it: taken
# once from the linux-source tarball that selftests/rig/linux-source.sh
# caches for the rest of the rig.
dt_includes() {
	local src inc
	src=$("$here/../selftests/rig/linux-source.sh") || return 1
	inc=$src/dt-include
	if [ ! -e "$inc/.ready" ]; then
		rm -rf "$inc" && mkdir -p "$inc" || return 1
		tar -xJf "$src/linux-source.tar.xz" -C "$inc" --strip-components=2 \
			--wildcards '*/include/dt-bindings/*' || return 1
		touch "$inc/.ready"
	fi
	echo "$inc"
}

# compile SRC DTB [DTC-FLAGS...]: dtc, through cpp when SRC uses #include.
# dtc's warnings count as failures. Output and diagnostics in $out.
compile() {
	local src=$1 dtb=$2 in=$1 inc
	shift 2
	if grep -q '^[[:space:]]*#include' "$src"; then
		inc=$(dt_includes) || { out="no kernel dt-bindings headers for cpp"; return 1; }
		in=$tmp/$(basename "$src").pp
		out=$(cpp -nostdinc -undef -x assembler-with-cpp -D__DTS__ \
			-I "$here" -I "$here/include" -I "$inc" "$src" -o "$in" 2>&1) ||
			return 1
	fi
	out=$(dtc -I dts -O dtb "$@" -o "$dtb" "$in" 2>&1) && [ -z "$out" ]
}

# validate DTB: dt-validate against the processed schema. dt-validate exits
# 0 even when a node fails, so any report on stderr is a failure. Every node
# with one of our compatibles must also have matched its schema, and with
# "need-ours" there must be at least one such node (a misspelt compatible
# would otherwise pass silently).
validate() {
	local dtb=$1 need=${2:-} log=$tmp/validate.log compat path ours=0
	dt-validate -M -s "$tmp/schema.json" "$dtb" >"$log" 2>&1
	out=$(grep -v -e ': matched on schema(s)$' -e '^[[:space:]]*http://devicetree.org/schemas/' "$log")
	[ -z "$out" ] || return 1
	for compat in "${!schema_of[@]}"; do
		while read -r path; do
			[ -n "$path" ] || continue
			ours=$((ours + 1))
			if ! awk -v p="$path" -v id="${schema_of[$compat]}" '
				index($0, ": " p ": matched on schema(s)") { m = 1; next }
				/: matched on schema\(s\)$/ { m = 0 }
				m && $1 == id { ok = 1 }
				END { exit !ok }' "$log"; then
				out="$path: compatible \"$compat\" did not match ${schema_of[$compat]}"
				return 1
			fi
		done < <(nodes_with "$dtb" "$compat")
	done
	if [ -n "$need" ] && [ $ours -eq 0 ]; then
		out="no node with compatible ${!schema_of[*]}"
		return 1
	fi
}

# nodes_with DTB COMPATIBLE: paths of the nodes carrying that compatible.
# libfdt's Python binding comes with dt-schema; use Debian's Python, which
# is the one dt-schema is installed for.
nodes_with() {
	/usr/bin/python3 - "$1" "$2" <<-'EOT'
		import os
		import sys
		import libfdt
		fdt = libfdt.Fdt(open(sys.argv[1], "rb").read())
		want = sys.argv[2].encode()
		def walk(off, path):
		    prop = fdt.getprop(off, "compatible", libfdt.QUIET_NOTFOUND)
		    if not isinstance(prop, int) and want in bytes(prop).split(b"\0"):
		        print(path or "/")
		    sub = fdt.first_subnode(off, libfdt.QUIET_NOTFOUND)
		    while sub >= 0:
		        walk(sub, path + "/" + fdt.get_name(sub))
		        sub = fdt.next_subnode(sub, libfdt.QUIET_NOTFOUND)
		walk(0, "")
		# Skip interpreter teardown: this libfdt binding can crash there.
		sys.stdout.flush()
		os._exit(0)
	EOT
}

# --- The bindings ---
for f in "$bindings"/*.yaml; do
	b=$(basename "$f")
	out=$(dt-doc-validate -u "$bindings" "$f" 2>&1)
	rc=$?
	[ -z "$out" ] || rc=1
	tap $rc "dt-doc-validate $b" "$out"
done

out=$(dt-mk-schema -j -o "$tmp/schema.json" "$bindings" 2>&1)
rc=$?
[ -z "$out" ] || rc=1
tap $rc "dt-mk-schema: bindings plus dt-schema core" "$out"
[ $rc -eq 0 ] || finish

for f in "$bindings"/*.yaml; do
	b=$(basename "$f" .yaml)
	dts=$tmp/$b.example.dts
	if ! out=$(dt-extract-example "$f" 2>&1 >"$dts"); then
		tap 1 "examples of $b: extract" "$out"
		continue
	fi
	compile "$dts" "$tmp/$b.example.dtb"
	tap $? "examples of $b: dtc" "$out"
	[ -e "$tmp/$b.example.dtb" ] || continue
	validate "$tmp/$b.example.dtb" need-ours
	tap $? "examples of $b: dt-validate" "$out"
done

# --- Nodes that break the bindings: each must be reported ---
negative() {
	local name=$1 node=$2 want=$3 dtb=$tmp/neg-$1.dtb
	cat >"$tmp/neg-$name.dts" <<-EOT
		/dts-v1/;
		/ {
			compatible = "vmgen,test";
			model = "vmgen test";
			#address-cells = <2>;
			#size-cells = <2>;
			interrupt-parent = <&gic>;
			gic: interrupt-controller@8000000 {
				compatible = "arm,gic-v3";
				interrupt-controller;
				#interrupt-cells = <3>;
				#address-cells = <0>;
				reg = <0 0x8000000 0 0x10000>, <0 0x80a0000 0 0xf60000>;
			};
		$node
		};
	EOT
	if ! compile "$tmp/neg-$name.dts" "$dtb"; then
		tap 1 "rejects $name: dtc" "$out"
		return
	fi
	if validate "$dtb"; then
		tap 1 "rejects $name" "dt-validate accepted it"
	elif ! grep -q -- "$want" <<<"$out"; then
		tap 1 "rejects $name" "expected \"$want\", got:" "$out"
	else
		tap 0 "rejects $name"
	fi
}
negative vmgenid-without-interrupts '
	vmgenid@80000000 {
		compatible = "microsoft,vmgenid";
		reg = <0 0x80000000 0 0x10>;
	};' "'interrupts' is a required property"
negative vmclock-without-reg '
	vmclock {
		compatible = "amazon,vmclock";
		interrupts = <0 36 1>;
	};' "'reg' is a required property"
negative vmclock-two-regions '
	vmclock@80001000 {
		compatible = "amazon,vmclock";
		reg = <0 0x80001000 0 0x1000>, <0 0x80003000 0 0x1000>;
	};' "reg: .* is too long"
negative vmclock-two-interrupts '
	vmclock@80001000 {
		compatible = "amazon,vmclock";
		reg = <0 0x80001000 0 0x1000>;
		interrupts = <0 36 1>, <0 37 1>;
	};' "interrupts: .* is too long"
negative vmgenid-unknown-property '
	vmgenid@80000000 {
		compatible = "microsoft,vmgenid";
		reg = <0 0x80000000 0 0x10>;
		interrupts = <0 35 1>;
		vmgen,id = "0123456789abcdef";
	};' "'vmgen,id' does not match any of the regexes"

# --- dts/*.dts: compiled with symbols, so overlays can apply onto them ---
shopt -s nullglob
bases=()
for f in "$here"/*.dts; do
	b=$(basename "$f")
	if compile "$f" "$tmp/$b.dtb" -@; then
		tap 0 "$b: dtc"
		bases+=("$tmp/$b.dtb")
	else
		tap 1 "$b: dtc" "$out"
		continue
	fi
	validate "$tmp/$b.dtb" need-ours
	tap $? "$b: dt-validate" "$out"
done

# --- dts/*.dtso ---
# A minimal arm64 virt-like base with the labels overlays usually refer to,
# for overlays written for a board that is not in dts/.
cat >"$tmp/base.dts" <<-'EOT'
	/dts-v1/;
	/ {
		compatible = "vmgen,test";
		model = "vmgen overlay test base";
		#address-cells = <2>;
		#size-cells = <2>;
		interrupt-parent = <&gic>;
		gic: intc: interrupt-controller@8000000 {
			compatible = "arm,gic-v3";
			interrupt-controller;
			#interrupt-cells = <3>;
			#address-cells = <0>;
			reg = <0 0x8000000 0 0x10000>, <0 0x80a0000 0 0xf60000>;
		};
	};
EOT
compile "$tmp/base.dts" "$tmp/built-in-base.dtb" -@ || {
	tap 1 "built-in overlay base: dtc" "$out"
	finish
}
for f in "$here"/*.dtso; do
	b=$(basename "$f")
	# What these checks look at is only known once the overlay is applied:
	# they run on the merged tree below.
	if ! compile "$f" "$tmp/$b.dtbo" -@ -Wno-reg_format -Wno-ranges_format \
		-Wno-avoid_default_addr_size -Wno-interrupts_property; then
		tap 1 "$b: dtc -@" "$out"
		continue
	fi
	tap 0 "$b: dtc -@"
	applied=()
	errs=()
	for base in "${bases[@]}" "$tmp/built-in-base.dtb"; do
		bb=$(basename "$base" .dtb)
		merged=$tmp/$b+$bb.dtb
		if ! out=$(fdtoverlay -i "$base" -o "$merged" "$tmp/$b.dtbo" 2>&1); then
			errs+=("does not apply onto $bb: $out")
			continue
		fi
		applied+=("$bb")
		out=$(dtc -I dtb -O dtb -o /dev/null "$merged" 2>&1)
		[ -z "$out" ]
		tap $? "$b: applied onto $bb: dtc" "$out"
		validate "$merged" need-ours
		tap $? "$b: applied onto $bb: dt-validate" "$out"
	done
	if [ ${#applied[@]} -eq 0 ]; then
		tap 1 "$b: applies onto a base" "${errs[@]}"
	else
		tap 0 "$b: applies onto ${applied[*]}"
	fi
done

finish
