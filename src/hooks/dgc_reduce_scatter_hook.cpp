#include "dgc/hooks/dgc_reduce_scatter_hook.h"

#include "dgc/error.h"

namespace dgc {

DgcReduceScatterHook::DgcReduceScatterHook(Compressor compressor, DgcHookOptions options)
    : DgcHook(std::move(compressor), options, DgcScheme::kReduceScatter) {}

void DgcReduceScatterHook::prepare(const std::vector<HookTensor>& tensors,
                                   const std::vector<std::vector<std::size_t>>& buckets,
                                   Communicator& comm) {
  DGC_CHECK(options_.encoding == WireEncoding::kEncoded,
            "dgc_reduce_scatter sends encoded messages only (its messages have no fixed size); "
            "use the encoded wire format");
  DgcHook::prepare(tensors, buckets, comm);
}

}  // namespace dgc
