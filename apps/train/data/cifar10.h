// The reader of CIFAR-10's binary version (cifar-10-batches-bin).
//
// Each batch file is a sequence of 3073-byte records: one label byte (0..9), then the 32x32 image
// as 1024 red, 1024 green and 1024 blue bytes, each plane row-major; that is already the
// [C, H, W] layout, so a record's pixels are read straight into place. The training set is
// data_batch_1.bin .. data_batch_5.bin (50,000 images), the test set test_batch.bin (10,000).
// A missing file, a size that is not a whole number of records, or a label above 9 is a
// dgc::Error naming the file (and the record). Thread-safe (no state).
#pragma once

#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace dgc::train {

// The size of one record: a label byte and 3 x 32 x 32 pixel bytes.
inline constexpr std::int64_t kCifar10RecordBytes = 1 + 3 * 32 * 32;

// CIFAR-10 from `dir`, the folder holding the batch files, or its parent holding
// cifar-10-batches-bin/ (the layout the archive unpacks to). Images uint8 [N, 3, 32, 32], labels
// int64 [N] in [0, 10); named "cifar10/train" or "cifar10/test".
Dataset load_cifar10(const std::string& dir, bool train);

}  // namespace dgc::train
