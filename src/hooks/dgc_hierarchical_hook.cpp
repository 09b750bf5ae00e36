#include "dgc/hooks/dgc_hierarchical_hook.h"

#include "dgc/error.h"

namespace dgc {

DgcHierarchicalHook::DgcHierarchicalHook(Compressor compressor, DgcHookOptions options)
    : DgcHook(std::move(compressor), options, DgcScheme::kHierarchical) {}

void DgcHierarchicalHook::prepare(const std::vector<HookTensor>& tensors,
                                  const std::vector<std::vector<std::size_t>>& buckets,
                                  Communicator& comm) {
  if (!comm.nodes_uniform()) {
    std::string sizes;
    for (const int size : comm.node_sizes())
      sizes += (sizes.empty() ? "" : ", ") + std::to_string(size);
    DGC_FAIL("dgc_hierarchical needs the same number of ranks on every node, got ", sizes,
             " (start as many ranks on every host, or use the flat dgc exchange)");
  }
  DgcHook::prepare(tensors, buckets, comm);
}

}  // namespace dgc
