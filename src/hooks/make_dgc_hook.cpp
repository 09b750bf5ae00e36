#include "dgc/hooks/make_dgc_hook.h"

#include "dgc/error.h"
#include "dgc/hooks/dgc_hierarchical_hook.h"
#include "dgc/hooks/dgc_reduce_scatter_hook.h"

namespace dgc {

std::unique_ptr<DgcHook> make_dgc_hook(const std::string& name, Compressor compressor,
                                       DgcHookOptions options, DgcAutoOptions choice) {
  if (name == "dgc") return std::make_unique<DgcHook>(std::move(compressor), options);
  if (name == "dgc_hierarchical") {
    return std::make_unique<DgcHierarchicalHook>(std::move(compressor), options);
  }
  if (name == "dgc_reduce_scatter") {
    return std::make_unique<DgcReduceScatterHook>(std::move(compressor), options);
  }
  if (name == "dgc_auto") {
    return std::make_unique<DgcAutoHook>(std::move(compressor), options, choice);
  }
  DGC_FAIL("unknown DGC exchange '", name,
           "' (dgc, dgc_hierarchical, dgc_reduce_scatter or dgc_auto)");
}

}  // namespace dgc
