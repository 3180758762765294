/*
 * fork.c: detects that the process is a child created by fork() without
 * exec(), in which the Go runtime cannot run.
 *
 * After fork() only the calling thread exists in the child, but the Go
 * runtime of libtep_interface.so expects its own threads (scheduler, GC,
 * signal handling) and hangs or crashes when entered. So the C stubs ask
 * tep_forked() before every call and, in a child, answer without entering
 * Go. PKCS#11 v2.40 ("Applications and processes") has a child call
 * C_Initialize before using a module again; this module refuses instead.
 *
 * The atfork handler is registered by a constructor, when the library is
 * loaded, rather than on first use: Go's runtime already runs from load
 * time, so a fork between dlopen() and the first PKCS#11 call produces a
 * child that is just as unable to run Go, and a lazily registered handler
 * would miss it.
 */

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "_cgo_export.h"

/*
 * The descriptor of the open port, or -1. The child closes it at once, so
 * that it neither keeps the port open after the parent has closed it nor
 * writes into the parent's conversation with the server.
 */
int tep_port_fd = -1;

static volatile sig_atomic_t tep_in_child;
static pid_t tep_loader_pid;

static void tep_atfork_child(void)
{
	int fd = __atomic_exchange_n(&tep_port_fd, -1, __ATOMIC_SEQ_CST);

	tep_in_child = 1;
	if (fd >= 0)
		close(fd);
}

__attribute__((constructor)) static void tep_fork_init(void)
{
	tep_loader_pid = getpid();
	/* On failure (ENOMEM) tep_forked() still sees the changed pid. */
	(void)pthread_atfork(NULL, NULL, tep_atfork_child);
}

/*
 * tep_forked reports whether this process is not the one that loaded the
 * library. The pid comparison also catches children made by a raw clone()
 * that skips the atfork handlers.
 */
int tep_forked(void)
{
	return tep_in_child || getpid() != tep_loader_pid;
}

/*
 * tep_set_port_fd records the port's descriptor for the atfork handler.
 * Call it with -1 before closing the descriptor, never after, so that a
 * fork in between cannot make the child close an unrelated descriptor
 * that reused the number.
 */
void tep_set_port_fd(int fd)
{
	__atomic_store_n(&tep_port_fd, fd, __ATOMIC_SEQ_CST);
}
