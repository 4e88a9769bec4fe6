// SPDX-License-Identifier: GPL-2.0
/*
 * rig_uartirq: the guest half of the arm64 rig's host-raised interrupt.
 *
 * On QEMU's arm64 "virt" machine the rig gives the guest a second PL011
 * UART, fed by a host socket, and disables its device tree node so that no
 * driver binds it. The emulated VMClock and VMGenID nodes name that UART's
 * SPI as their interrupt, typed edge-rising. A byte the host writes to the
 * socket lands in the UART's receive register and raises its RX interrupt
 * line: a rising edge, which the GIC latches, and the drivers' handlers run.
 *
 * Two things need a hand from inside the guest, and this program (a test
 * helper, nothing a real VMM guest needs) gives them through /dev/mem:
 *
 *  arm   A PL011 comes out of reset with every interrupt masked, and no
 *        driver is bound to unmask it. "arm" turns the FIFO off (so each
 *        byte is one receive interrupt), clears what is pending and
 *        unmasks the receive interrupt only.
 *
 *  run   The RX line stays high until the byte is read, and a line that
 *        stays high gives no further edge; with the FIFO off QEMU also takes
 *        no further byte from the socket until then. So after each byte the
 *        line must go low again: "run" arms the UART, then polls the flag
 *        register and reads every byte that arrived, which lowers the line.
 *        It never touches the interrupt controller: every edge the guest
 *        sees is a byte written by the host. Bytes the host sends close
 *        together wait in the socket and each still makes its own edge,
 *        after the one before it was read.
 *
 *  status  prints the UART's registers, for debugging.
 *
 * Usage: rig_uartirq [--base ADDR] [--interval-us N] [-v] arm|run|status
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

/* QEMU virt's second non-secure UART (VIRT_UART1), see docs/rig.md. */
#define DEFAULT_BASE	0x09040000UL
#define MAP_LEN		0x1000UL

/* PL011 registers (ARM PrimeCell UART TRM) and the bits used here. */
#define UART_DR		0x000
#define UART_FR		0x018
#define  FR_RXFE	(1u << 4)
#define UART_LCR_H	0x02c
#define  LCR_H_WLEN8	(3u << 5)	/* FEN (bit 4) left clear: no FIFO */
#define UART_CR		0x030
#define  CR_UARTEN	(1u << 0)
#define  CR_TXE		(1u << 8)
#define  CR_RXE		(1u << 9)
#define UART_IMSC	0x038
#define  INT_RX		(1u << 4)
#define UART_RIS	0x03c
#define UART_MIS	0x040
#define UART_ICR	0x044
#define  INT_ALL	0x7ffu

static volatile uint32_t *regs;
static volatile sig_atomic_t stop;
static int verbose;

static uint32_t rd(unsigned int off)
{
	return regs[off / 4];
}

static void wr(unsigned int off, uint32_t val)
{
	regs[off / 4] = val;
}

static int map_uart(unsigned long base)
{
	void *p;
	int fd;

	fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "rig_uartirq: /dev/mem: %s\n", strerror(errno));
		return -1;
	}
	p = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)base);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "rig_uartirq: mmap 0x%lx: %s\n", base,
			strerror(errno));
		return -1;
	}
	regs = p;
	return 0;
}

/* Reads whatever is waiting; returns how many bytes that was. */
static unsigned int drain(void)
{
	unsigned int n = 0;

	while (!(rd(UART_FR) & FR_RXFE) && n < 4096) {
		uint32_t c = rd(UART_DR);

		if (verbose)
			fprintf(stderr, "rig_uartirq: byte 0x%02x\n", c & 0xff);
		n++;
	}
	/*
	 * Reading the byte already lowered the receive interrupt. Clear the
	 * other causes (errors, receive timeout) but not RX itself: a byte
	 * that arrived since the last read has raised the line, its edge is
	 * taken, and the next pass reads it.
	 */
	wr(UART_ICR, INT_ALL & ~INT_RX);
	return n;
}

static void arm_uart(void)
{
	wr(UART_IMSC, 0);
	wr(UART_CR, 0);
	wr(UART_LCR_H, LCR_H_WLEN8);
	wr(UART_CR, CR_UARTEN | CR_RXE | CR_TXE);
	/* Bytes from before: read them with the interrupt still masked. */
	drain();
	wr(UART_ICR, INT_ALL);
	wr(UART_IMSC, INT_RX);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int run(unsigned int interval_us)
{
	struct timespec fast = { 0, 100 * 1000 };
	struct timespec idle = { interval_us / 1000000,
				 (interval_us % 1000000) * 1000L };
	unsigned long long total = 0;
	unsigned int quiet = 0;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	arm_uart();
	printf("rig_uartirq: armed, polling every %u us\n", interval_us);
	fflush(stdout);
	while (!stop) {
		unsigned int n = drain();

		total += n;
		/* Right after a byte, look again soon: events come in runs. */
		quiet = n ? 0 : quiet + 1;
		nanosleep(quiet < 50 ? &fast : &idle, NULL);
	}
	wr(UART_IMSC, 0);
	printf("rig_uartirq: %llu bytes\n", total);
	return 0;
}

static void status(void)
{
	printf("fr=0x%03x lcr_h=0x%02x cr=0x%03x imsc=0x%03x ris=0x%03x mis=0x%03x\n",
	       rd(UART_FR), rd(UART_LCR_H), rd(UART_CR), rd(UART_IMSC),
	       rd(UART_RIS), rd(UART_MIS));
}

static int usage(void)
{
	fprintf(stderr, "usage: rig_uartirq [--base ADDR] [--interval-us N] [-v] arm|run|status\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long base = DEFAULT_BASE;
	unsigned int interval_us = 2000;
	const char *cmd = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--base") && i + 1 < argc)
			base = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--interval-us") && i + 1 < argc)
			interval_us = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else if (!cmd && argv[i][0] != '-')
			cmd = argv[i];
		else
			return usage();
	}
	if (!cmd || !interval_us || interval_us >= 10000000)
		return usage();
	if (map_uart(base))
		return 1;
	if (!strcmp(cmd, "arm")) {
		arm_uart();
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return run(interval_us);
	if (!strcmp(cmd, "status")) {
		status();
		return 0;
	}
	return usage();
}
