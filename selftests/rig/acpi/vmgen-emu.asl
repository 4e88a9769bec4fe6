/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SSDT for the QEMU test rig: a Firecracker-style VMClock (VCLK) and/or
 * VMGenID (VGEN) backed by guest RAM that selftests/emu/vmgen-emu writes
 * from the host, plus a Generic Event Device (GED) whose interrupt comes
 * from a spare 16550 UART (I/O 0x2A0, IRQ 3) fed by the emulator's socket.
 *
 * Every byte the host writes to the UART raises the GED interrupt; _EVT
 * drains the receive buffer, ORs the bytes together and sends
 * Notify(0x80) to VCLK if bit 0 is set and to VGEN if bit 1 is set.
 *
 * One source, three tables (iasl preprocessor):
 *   iasl -f -DEMU_VMCLOCK                vclk.aml
 *   iasl -f -DEMU_VMGENID                vgen.aml
 *   iasl -f -DEMU_VMCLOCK -DEMU_VMGENID  both.aml
 * -f is needed because iasl rejects "VMGENCTR" as a _HID (no hex suffix);
 * Linux matches it as is. build.sh checks that is the only error.
 *
 * Guest side: reserve the pages (memmap=8K$0x0f000000) and keep Linux off
 * the UART (pnpacpi=off 8250.nr_uarts=1). QEMU side:
 *   -chardev socket,id=ev,path=SOCK,server=on,wait=off
 *   -device isa-serial,chardev=ev,iobase=0x2a0,irq=3
 *   -acpitable file=both.aml
 */
#ifndef EMU_VMCLOCK
#ifndef EMU_VMGENID
#error "define EMU_VMCLOCK and/or EMU_VMGENID"
#endif
#endif

DefinitionBlock ("", "SSDT", 2, "VMGEN", "VMGENEMU", 1)
{
    Scope (\_SB)
    {
#ifdef EMU_VMCLOCK
        /* The VMClock page, as Firecracker declares it. */
        Device (VCLK)
        {
            Name (_HID, "AMZNC10C")
            Name (_CID, "VMCLOCK")
            Name (_DDN, "VMCLOCK")
            Name (_UID, Zero)
            Method (_STA, 0, NotSerialized)
            {
                Return (0x0F)
            }
            Name (_CRS, ResourceTemplate ()
            {
                QWordMemory (ResourceConsumer, PosDecode, MinFixed, MaxFixed,
                    Cacheable, ReadOnly,
                    0x0000000000000000,     /* granularity */
                    0x000000000F000000,     /* minimum */
                    0x000000000F000FFF,     /* maximum */
                    0x0000000000000000,     /* translation */
                    0x0000000000001000)     /* length: 4 KiB */
            })
        }
#endif

#ifdef EMU_VMGENID
        /* The 16-byte VM generation ID, as Firecracker (>= 1.16) declares it. */
        Device (VGEN)
        {
            Name (_HID, "VMGENCTR")
            Name (_CID, "VM_Gen_Counter")
            Name (_DDN, "VM_Gen_Counter")
            Method (_STA, 0, NotSerialized)
            {
                Return (0x0F)
            }
            Method (ADDR, 0, NotSerialized)
            {
                /* low and high 32 bits of the ID's guest physical address */
                Return (Package (0x02)
                {
                    0x0F001000,
                    Zero
                })
            }
        }
#endif

        /* Generic Event Device: the spare UART's IRQ drives the notifies. */
        Device (GEDE)
        {
            Name (_HID, "ACPI0013")
            Name (_UID, One)
            Name (_CRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )
                {
                    0x00000003
                }
            })

            /* 16550 registers with DLAB clear (LCR bit 7 is 0 at reset). */
            OperationRegion (UART, SystemIO, 0x02A0, 0x08)
            Field (UART, ByteAcc, NoLock, Preserve)
            {
                RBR,    8,      /* +0 receive buffer */
                IER,    8,      /* +1 interrupt enable */
                IIR,    8,      /* +2 interrupt identification */
                LCR,    8,      /* +3 line control */
                MCR,    8,      /* +4 modem control */
                LSR,    8       /* +5 line status */
            }

            Method (_INI, 0, NotSerialized)
            {
                IER = One       /* interrupt when a byte is received */
                MCR = 0x08      /* OUT2: route the UART interrupt to the IRQ */
            }

            Method (_EVT, 1, Serialized)
            {
                Local1 = Zero   /* ORed notification bytes */
                Local2 = Zero   /* bound the loop should the port float */
                While ((LSR & One) && (Local2 < 0x40))
                {
                    Local1 |= RBR
                    Local2++
                }
#ifdef EMU_VMCLOCK
                If (Local1 & One)
                {
                    Notify (\_SB.VCLK, 0x80)
                }
#endif
#ifdef EMU_VMGENID
                If (Local1 & 0x02)
                {
                    Notify (\_SB.VGEN, 0x80)
                }
#endif
            }
        }
    }
}
