/*
 * counter: the test workload whose state lives only in its memory. It draws a random identity
 * when it starts and counts up, one every 100 ms; it prints the count once a second and answers
 * any TCP connection on PORT (default 8080) with one JSON line: {"id":"…","count":N}. A process
 * restored from a checkpoint keeps its identity and goes on from the count it had; a process
 * started afresh has a new identity and starts from zero. SIGTERM ends it at once.
 *
 * ALLOC_MIB=N makes it hold N MiB of memory with mixed content (a quarter zeros, a quarter
 * repeating text, half pseudo-random), so its checkpoint is that much larger and compresses as
 * real heaps do.
 *
 * HOLD_IO_URING=1 makes it hold an io_uring instance: a file CRIU cannot dump, so every
 * checkpoint of it fails in CRIU (as it does for real programs that use io_uring).
 *
 * Built static (gcc -static) into the test image, so the image needs no libraries.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char id[17];
static unsigned long count;

static void stop(int sig) { (void)sig; _exit(0); }

static void hold_memory(unsigned long mib) {
  size_t size = mib << 20;
  unsigned char *m = malloc(size);
  if (!m) { perror("malloc"); exit(1); }
  unsigned long long x = 0x9e3779b97f4a7c15ULL;
  static const char text[] = "checkpoint-operator keeps process memory; ";
  for (size_t i = 0; i < size; i += 4096) {
    unsigned char *page = m + i;
    switch ((i >> 12) & 3) {
      case 0: memset(page, 0, 4096); break;
      case 1: for (int j = 0; j < 4096; j++) page[j] = text[j % (sizeof text - 1)]; break;
      default:
        for (int j = 0; j < 4096; j += 8) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; memcpy(page + j, &x, 8); }
    }
  }
}

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(void) {
  unsigned char raw[8];
  int rnd = open("/dev/urandom", O_RDONLY);
  if (rnd < 0 || read(rnd, raw, sizeof raw) != (ssize_t)sizeof raw) return 1;
  close(rnd);
  for (int i = 0; i < 8; i++) sprintf(id + 2 * i, "%02x", raw[i]);
  const char *alloc = getenv("ALLOC_MIB");
  if (alloc) hold_memory(strtoul(alloc, NULL, 10));
  if (getenv("HOLD_IO_URING")) {
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    if (syscall(__NR_io_uring_setup, 4, &params) < 0) { perror("io_uring_setup"); return 1; }
  }
  signal(SIGTERM, stop);
  signal(SIGPIPE, SIG_IGN);

  const char *port = getenv("PORT");
  int srv = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port ? atoi(port) : 8080), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(srv, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(srv, 16) != 0) { perror("listen"); return 1; }

  printf("counter %s started\n", id);
  fflush(stdout);
  long long next_tick = now_ms() + 100;
  for (;;) {
    long long wait = next_tick - now_ms();
    struct pollfd p = {.fd = srv, .events = POLLIN};
    if (poll(&p, 1, wait > 0 ? (int)wait : 0) > 0) {
      int c = accept(srv, NULL, NULL);
      if (c >= 0) {
        char body[96];
        int n = snprintf(body, sizeof body, "{\"id\":\"%s\",\"count\":%lu}\n", id, count);
        char reply[256];
        int m = snprintf(reply, sizeof reply, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", n, body);
        if (write(c, reply, m) < 0) { /* the client went away */ }
        close(c);
      }
    }
    if (now_ms() >= next_tick) {
      next_tick += 100;
      if (++count % 10 == 0) {
        printf("count %lu\n", count);
        fflush(stdout);
      }
    }
  }
}
