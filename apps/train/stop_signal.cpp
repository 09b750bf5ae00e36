#include "stop_signal.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <initializer_list>

namespace dgc::train {
namespace {

std::atomic<int> g_signal{0};
bool g_announce = false;

// Async-signal-safe only: an atomic, write(2), signal(2), raise(3).
void on_signal(int signo) {
  int expected = 0;
  if (!g_signal.compare_exchange_strong(expected, signo)) {
    if (signo == SIGUSR1) return;  // a repeated request, not an insistence
    signal(signo, SIG_DFL);
    raise(signo);
    return;
  }
  if (!g_announce) return;
  const char* name = signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "SIGUSR1";
  static const char kText[] =
      " received: stopping at the end of this step with a checkpoint on every rank (SIGINT or "
      "SIGTERM again stops at once)\n";
  (void)!write(STDERR_FILENO, "dgc-train: ", 11);
  (void)!write(STDERR_FILENO, name, strlen(name));
  (void)!write(STDERR_FILENO, kText, sizeof kText - 1);
}

}  // namespace

void install_stop_handlers(bool announce) {
  g_announce = announce;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a signal must not make a blocking read or MPI call fail with EINTR.
  action.sa_flags = SA_RESTART;
  for (int signo : {SIGINT, SIGTERM, SIGUSR1}) sigaction(signo, &action, nullptr);
}

int stop_requested() { return g_signal.load(); }

}  // namespace dgc::train
