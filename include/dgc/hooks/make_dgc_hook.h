// A DGC hook by its dgc-train name (train.exchange), beside make_allreduce_hook for the dense ones.
#pragma once

#include <memory>
#include <string>

#include "dgc/compressor.h"
#include "dgc/export.h"
#include "dgc/hooks/dgc_auto_hook.h"
#include "dgc/hooks/dgc_hook.h"

namespace dgc {

// "dgc", "dgc_hierarchical", "dgc_reduce_scatter" or "dgc_auto" (the only one that takes
// `choice`); another name is a dgc::Error listing these. `compressor`: fresh, nothing registered.
DGC_EXPORT std::unique_ptr<DgcHook> make_dgc_hook(const std::string& name, Compressor compressor,
                                                  DgcHookOptions options = {},
                                                  DgcAutoOptions choice = {});

}  // namespace dgc
