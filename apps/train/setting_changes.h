// Which settings differ between the config a checkpoint was written with and the run's: what a
// resume must refuse unless the user accepts it (--allow-changed), and what --evaluate reports.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace dgc::train {

struct SettingChange {
  std::string key;
  std::string text;  // "key: old -> new"
};

// The changed settings, by dotted key in sorted order, leaving out
//  - keys that cannot change the training: logging.*, data.*, distributed.*,
//    train.stop_after_epochs, evaluate.batch_size, dataset.root;
//  - keys the checkpoint's config lacks because the schema gained them after it was written,
//    where the run's value is the schema's default (`schema_yaml`, configs/default.yaml's
//    text): the version that wrote the checkpoint behaved as that default does. Any other value
//    is a change from "(absent)".
// A key of an older schema that the run's config lacks ("device") is a change unless listed
// above.
std::vector<SettingChange> changed_settings(const std::string& checkpoint_yaml,
                                            const Config& config, const std::string& schema_yaml);

// configs/default.yaml's text for `config` (its first source), or "" when it has none.
std::string schema_of(const Config& config);

}  // namespace dgc::train
