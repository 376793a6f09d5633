// SPDX-License-Identifier: GPL-2.0
/*
 * pyrun: run a Python script in the guest's warm Python (selftests/guest/pyserve.py)
 * instead of starting a new interpreter. A python3 start costs about 3.5 s in
 * the emulated KASAN guest; an exec of this client and a fork of the warm server
 * cost a few tenths.
 *
 *   pyrun SCRIPT|-|-c CODE [ARGS...]     (as "python3 -I -S ...")
 *
 * The server socket is $RERO_PYSERVE. pyrun hands its stdin, stdout and stderr
 * (SCM_RIGHTS), its working directory, environment and arguments to the server,
 * which forks a child that runs the script on those descriptors; pyrun exits with
 * the script's exit status. If pyrun is killed (timeout(1)), the server sees the
 * socket close and kills the script's process group. Exit status 125: no server.
 *
 * Request: u32 length, then NUL-terminated strings: cwd, "N" (number of
 * environment strings), the environment, then argv. Reply: one i32 (the exit
 * status, or 128 + signal).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

static int put(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s) + 1;

	while (*len + n > *cap) {
		char *b = realloc(*buf, *cap * 2);

		if (!b)
			return -1;
		*buf = b;
		*cap *= 2;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = getenv("RERO_PYSERVE");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 4, cap = 4096;
	char *buf = malloc(cap), cwd[4096], num[32];
	int fds[3] = { 0, 1, 2 }, i, n = 0, s, status;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(fds))];
	} c;
	struct iovec iov;
	struct msghdr m = { 0 };
	ssize_t r;

	if (!path || strlen(path) >= sizeof(sa.sun_path) || !buf || argc < 2) {
		fprintf(stderr, "pyrun: RERO_PYSERVE unset or no script\n");
		return 125;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "/");
	for (i = 0; environ[i]; i++)
		n++;
	snprintf(num, sizeof(num), "%d", n);
	if (put(&buf, &len, &cap, cwd) || put(&buf, &len, &cap, num))
		return 125;
	for (i = 0; i < n; i++)
		if (put(&buf, &len, &cap, environ[i]))
			return 125;
	for (i = 1; i < argc; i++)
		if (put(&buf, &len, &cap, argv[i]))
			return 125;
	*(uint32_t *)buf = (uint32_t)(len - 4);

	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "pyrun: %s: %s\n", path, strerror(errno));
		return 125;
	}
	/* The descriptors go with the first byte; the rest follows. */
	iov.iov_base = buf;
	iov.iov_len = 1;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = c.b;
	m.msg_controllen = sizeof(c.b);
	c.h.cmsg_level = SOL_SOCKET;
	c.h.cmsg_type = SCM_RIGHTS;
	c.h.cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(&c.h), fds, sizeof(fds));
	if (sendmsg(s, &m, 0) != 1) {
		fprintf(stderr, "pyrun: sendmsg: %s\n", strerror(errno));
		return 125;
	}
	for (size_t off = 1; off < len; off += (size_t)r) {
		r = write(s, buf + off, len - off);
		if (r <= 0) {
			fprintf(stderr, "pyrun: write: %s\n", strerror(errno));
			return 125;
		}
	}
	for (size_t got = 0; got < sizeof(status); got += (size_t)r) {
		r = read(s, (char *)&status + got, sizeof(status) - got);
		if (r < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r <= 0) {
			fprintf(stderr, "pyrun: the server closed the connection\n");
			return 125;
		}
	}
	return status;
}
