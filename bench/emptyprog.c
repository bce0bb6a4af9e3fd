/* Loads an empty BPF program (r0 = 0; exit) on the sys_exit tracepoint and keeps it
 * attached until a signal: the hook floor, i.e. what the kernel charges every syscall
 * for having any program there at all, before fdwatch does any work.
 *
 *   emptyprog raw              BPF_PROG_TYPE_RAW_TRACEPOINT on "sys_exit"
 *   emptyprog btf BTF_ID       BPF_PROG_TYPE_TRACING (tp_btf, fdwatch's hook type);
 *                              BTF_ID is the id of typedef btf_trace_sys_exit in vmlinux
 *   emptyprog fexit BTF_ID     fexit on a kernel function (BTF_ID of its FUNC), and
 *   emptyprog lsm BTF_ID       BPF LSM on a bpf_lsm_* hook: the trampoline hooks that
 *                              would touch only the fd calls instead of every syscall;
 *                              the bench asks whether this kernel takes them at all.
 * Prints "attached" on stdout once the program runs.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int main(int argc, char **argv)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	static char log[4096];
	union bpf_attr load;
	memset(&load, 0, sizeof(load));
	load.insns = (uintptr_t)insns;
	load.insn_cnt = 2;
	load.license = (uintptr_t) "GPL";
	load.log_buf = (uintptr_t)log;
	load.log_size = sizeof(log);
	load.log_level = 1;
	strcpy(load.prog_name, "bench_empty");
	if (argc == 2 && !strcmp(argv[1], "raw")) {
		load.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
	} else if (argc == 3 && !strcmp(argv[1], "btf")) {
		load.prog_type = BPF_PROG_TYPE_TRACING;
		load.expected_attach_type = BPF_TRACE_RAW_TP;
		load.attach_btf_id = (uint32_t)strtoul(argv[2], NULL, 10);
	} else if (argc == 3 && !strcmp(argv[1], "fexit")) {
		load.prog_type = BPF_PROG_TYPE_TRACING;
		load.expected_attach_type = BPF_TRACE_FEXIT;
		load.attach_btf_id = (uint32_t)strtoul(argv[2], NULL, 10);
	} else if (argc == 3 && !strcmp(argv[1], "lsm")) {
		load.prog_type = BPF_PROG_TYPE_LSM;
		load.expected_attach_type = BPF_LSM_MAC;
		load.attach_btf_id = (uint32_t)strtoul(argv[2], NULL, 10);
	} else {
		fprintf(stderr, "usage: emptyprog raw | emptyprog {btf|fexit|lsm} BTF_ID\n");
		return 2;
	}
	int prog = bpf(BPF_PROG_LOAD, &load);
	if (prog < 0) {
		fprintf(stderr, "emptyprog: BPF_PROG_LOAD: %s %s\n", strerror(errno), log);
		return 1;
	}
	union bpf_attr open;
	memset(&open, 0, sizeof(open));
	open.raw_tracepoint.prog_fd = prog;
	/* tp_btf, fexit and LSM programs attach through the same command, by their BTF id. */
	if (load.prog_type == BPF_PROG_TYPE_RAW_TRACEPOINT)
		open.raw_tracepoint.name = (uintptr_t) "sys_exit";
	if (bpf(BPF_RAW_TRACEPOINT_OPEN, &open) < 0) {
		fprintf(stderr, "emptyprog: BPF_RAW_TRACEPOINT_OPEN: %s\n", strerror(errno));
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	for (;;)
		pause();
}
