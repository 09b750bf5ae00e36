#include "collective.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace dgc::train {

void run_together(Communicator& comm, const std::function<void()>& step) {
  std::string mine;  // empty: success
  try {
    step();
  } catch (const Error& e) {
    mine = e.message().empty() ? "unknown error" : e.message();
  } catch (const std::exception& e) {
    const std::string what = e.what();
    mine = what.empty() ? "unknown error"
                        : what.substr(0, what.find('\n'));  // c10 appends a backtrace
  }
  const std::vector<std::string> messages = allgather_texts(comm, mine);
  bool any = false, alike = true;
  for (const auto& m : messages) {
    any = any || !m.empty();
    alike = alike && m == messages[0];
  }
  if (!any) return;
  if (alike) throw CollectiveFailure(messages[0]);
  std::string text;
  for (std::size_t r = 0; r < messages.size(); ++r) {
    if (messages[r].empty()) continue;
    text +=
        (text.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) + ": " + messages[r];
  }
  throw CollectiveFailure(text);
}

std::vector<std::string> allgather_texts(Communicator& comm, const std::string& text) {
  std::vector<std::int64_t> sizes;
  std::vector<std::uint8_t> all;
  comm.allgatherv(text.data(), static_cast<std::int64_t>(text.size()), sizes, all);
  std::vector<std::string> texts;
  std::size_t offset = 0;
  for (const std::int64_t size : sizes) {
    texts.emplace_back(reinterpret_cast<const char*>(all.data()) + offset,
                       static_cast<std::size_t>(size));
    offset += static_cast<std::size_t>(size);
  }
  return texts;
}

StepOutcome agree_on_step(Communicator& comm, int stop_signal, bool loss_finite, bool failed) {
  const std::int64_t mine[3] = {stop_signal, loss_finite ? 0 : 1, failed ? 1 : 0};
  std::vector<std::int64_t> all(3 * static_cast<std::size_t>(comm.size()));
  comm.allgather(mine, sizeof mine, all.data());
  StepOutcome outcome;
  for (int r = 0; r < comm.size(); ++r) {
    outcome.stop_signal = std::max(outcome.stop_signal, static_cast<int>(all[3 * r]));
    if (all[3 * r + 1] != 0) outcome.non_finite_loss.push_back(r);
    outcome.any_failed = outcome.any_failed || all[3 * r + 2] != 0;
  }
  return outcome;
}

void check_same_on_every_rank(Communicator& comm, const std::string& text,
                              const std::string& what) {
  const std::vector<std::string> texts = allgather_texts(comm, text);
  std::string differences;
  for (std::size_t r = 1; r < texts.size(); ++r) {
    if (texts[r] == texts[0]) continue;
    differences += "; rank " + std::to_string(r) + " has " + texts[r];
  }
  if (!differences.empty()) {
    throw CollectiveFailure("the ranks do not agree on " + what + ": rank 0 has " + texts[0] +
                            differences);
  }
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks) out += (out.empty() ? "" : ", ") + std::to_string(r);
  return out;
}

}  // namespace dgc::train
