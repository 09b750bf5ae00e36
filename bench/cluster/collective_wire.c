/* What one collective carries over each emulated host's link, and how long it takes
 * (bench/cluster/collective_wire.sh): the scaling model (scripts/dgc-scaling) counts the bytes a
 * collective puts on a host link from the algorithm Open MPI picks, and fits the part of the
 * link's rate they get; this reads both off the hosts instead.
 *   collective_wire allreduce|allgatherv BYTES REPS
 * Every rank runs the collective REPS times back to back between barriers: an allreduce of BYTES
 * of floats (MPI_SUM), or an allgatherv of BYTES from every rank (DGC's messages). The first rank
 * of each node reads its network namespace's interface counters (/proc/net/dev is the reader's
 * namespace's; every interface but lo) before and after. Then REPS more calls, each after a
 * barrier, are timed. Rank 0 prints one line per node:
 *   node,bytes,tx_per_call,rx_per_call,seconds_median,seconds_mean,seconds_back_to_back
 * The counters include TCP/IP headers, the acknowledgements and the two barriers' few bytes. A
 * call's seconds are the slowest rank's, from the barrier before it to its end; the median and
 * mean over the timed calls, and the mean of the counted calls back to back (the slowest rank's
 * loop over REPS), are the same on every node's line. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sum of every interface's transmitted and received bytes but the loopback's. */
static void read_counters(unsigned long long* tx, unsigned long long* rx) {
  FILE* f = fopen("/proc/net/dev", "r");
  if (!f) {
    perror("collective_wire: /proc/net/dev");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  char line[512];
  *tx = *rx = 0;
  while (fgets(line, sizeof line, f)) {
    char* colon = strchr(line, ':');
    if (!colon) continue; /* the two header lines */
    *colon = '\0';
    char* name = line + strspn(line, " ");
    if (strcmp(name, "lo") == 0) continue;
    unsigned long long v[9];
    if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) != 9) {
      fprintf(stderr, "collective_wire: cannot read /proc/net/dev's line for %s\n", name);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    *rx += v[0]; /* receive bytes: the first column, transmit bytes: the ninth */
    *tx += v[8];
  }
  fclose(f);
}

struct call {
  int allgatherv;
  int count; /* floats per rank (allreduce: the buffer) */
  float *in, *out;
  int *counts, *offsets;
};

static int by_value(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static void run(const struct call* c) {
  if (c->allgatherv)
    MPI_Allgatherv(c->in, c->count, MPI_FLOAT, c->out, c->counts, c->offsets, MPI_FLOAT,
                   MPI_COMM_WORLD);
  else
    MPI_Allreduce(c->in, c->out, c->count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int allgatherv = argc == 4 && strcmp(argv[1], "allgatherv") == 0;
  int known = allgatherv || (argc == 4 && strcmp(argv[1], "allreduce") == 0);
  long bytes = known ? strtol(argv[2], NULL, 10) : -1;
  long reps = known ? strtol(argv[3], NULL, 10) : -1;
  /* What a rank receives (the allreduce's buffer, every rank's blocks of the allgatherv) stays
   * within 512 MiB: the emulated hosts share one machine's memory, and the allgatherv's offsets
   * are ints. */
  long received = allgatherv ? bytes * size : bytes;
  if (bytes < 4 || bytes % 4 != 0 || received > (1L << 29) || reps < 1 || reps > 100000) {
    if (rank == 0)
      fprintf(stderr,
              "usage: collective_wire allreduce|allgatherv BYTES REPS (BYTES a multiple of 4; "
              "at most 512 MiB received per rank)\n");
    MPI_Finalize();
    return 2;
  }
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int node_rank;
  MPI_Comm_rank(node, &node_rank);

  struct call c = {allgatherv, (int)(bytes / 4), NULL, NULL, NULL, NULL};
  c.in = calloc((size_t)c.count, sizeof(float));
  c.out = calloc((size_t)(received / 4), sizeof(float));
  c.counts = calloc((size_t)size, sizeof(int));
  c.offsets = calloc((size_t)size, sizeof(int));
  if (!c.in || !c.out || !c.counts || !c.offsets) MPI_Abort(MPI_COMM_WORLD, 1);
  for (int r = 0; r < size; ++r) {
    c.counts[r] = c.count;
    c.offsets[r] = r * c.count;
  }

  /* One untimed round: connections open lazily, at the first message between two ranks. */
  run(&c);
  MPI_Barrier(MPI_COMM_WORLD);
  unsigned long long tx0 = 0, rx0 = 0, tx1 = 0, rx1 = 0;
  if (node_rank == 0) read_counters(&tx0, &rx0);
  MPI_Barrier(MPI_COMM_WORLD);
  const double start = MPI_Wtime();
  for (long r = 0; r < reps; ++r) run(&c);
  const double back_to_back = (MPI_Wtime() - start) / reps;
  MPI_Barrier(MPI_COMM_WORLD);
  if (node_rank == 0) read_counters(&tx1, &rx1);

  /* The times, in a second round of calls, each after a barrier. Back to back, large calls over
   * TCP can lock into a slow mode: once one call has had a slow step, every later one takes twice
   * as long, the two directions taking turns. A barrier before each call (or a pause of a
   * training step's compute) mostly avoids that. Both are given, since training's exchanges ran
   * at either speed (docs/PERFORMANCE.md, "The collectives alone"). */
  double* seconds = calloc((size_t)reps, sizeof(double));
  double* slowest = calloc((size_t)reps, sizeof(double));
  if (!seconds || !slowest) MPI_Abort(MPI_COMM_WORLD, 1);
  for (long r = 0; r < reps; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double begin = MPI_Wtime();
    run(&c);
    seconds[r] = MPI_Wtime() - begin;
  }
  MPI_Reduce(seconds, slowest, (int)reps, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  double slowest_back_to_back = 0;
  MPI_Reduce(&back_to_back, &slowest_back_to_back, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  double median = 0, mean = 0;
  if (rank == 0) {
    for (long r = 0; r < reps; ++r) mean += slowest[r] / reps;
    qsort(slowest, (size_t)reps, sizeof(double), by_value);
    median = reps % 2 ? slowest[reps / 2] : (slowest[reps / 2 - 1] + slowest[reps / 2]) / 2;
  }

  /* Rank 0 prints what each node's first rank read, in world rank order. */
  double mine[3] = {node_rank == 0 ? 1.0 : 0.0, (double)(tx1 - tx0) / reps,
                    (double)(rx1 - rx0) / reps};
  double* all = rank == 0 ? malloc(sizeof mine * (size_t)size) : NULL;
  MPI_Gather(mine, 3, MPI_DOUBLE, all, 3, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    for (int r = 0, n = 0; r < size; ++r)
      if (all[3 * r] == 1.0)
        printf("%d,%ld,%.0f,%.0f,%.6f,%.6f,%.6f\n", n++, bytes, all[3 * r + 1], all[3 * r + 2],
               median, mean, slowest_back_to_back);
    free(all);
  }
  free(seconds);
  free(slowest);
  free(c.in);
  free(c.out);
  free(c.counts);
  free(c.offsets);
  MPI_Comm_free(&node);
  MPI_Finalize();
  return 0;
}
