// Readers of the IDX format (LeCun's MNIST files, used by Fashion-MNIST), gzip or plain.
//
// An IDX file is a big-endian header (a magic number whose third byte is the element type and
// fourth the number of dimensions, then one uint32 per dimension) followed by the elements. Only
// what (Fashion-)MNIST uses is read: unsigned-byte images, magic 0x00000803 with dims N, H, W,
// and unsigned-byte labels, magic 0x00000801 with dim N. The .gz files are read directly through
// zlib. The whole of each file must be exactly what its header declares: anything missing or
// left over is a dgc::Error naming the file, since it means a damaged or wrong file, not data to
// guess at. Sizes in headers are checked before anything is allocated. Thread-safe (no state).
#pragma once

#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace dgc::train {

// Where the Debian package dataset-fashion-mnist installs the four .gz files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// The largest image or label file accepted, in decompressed bytes (4 GiB): far above any real
// IDX dataset (Fashion-MNIST's training images are 47 MB), low enough that a corrupt header
// cannot ask for an absurd allocation.
inline constexpr std::uint64_t kMaxIdxBytes = std::uint64_t{1} << 32;

// Reads an image file and its label file: images uint8 [N, 1, H, W], labels int64 [N]. Throws
// dgc::Error when either file is missing, unreadable, of the wrong kind, truncated or followed by
// extra bytes, when the counts differ, or when a label is not below `num_classes`.
Dataset load_idx(const std::string& images_path, const std::string& labels_path,
                 std::int64_t num_classes);

// Fashion-MNIST from `dir`: {train,t10k}-images-idx3-ubyte.gz and {train,t10k}-labels-idx1-ubyte.gz
// (each also accepted without the .gz suffix, as unpacked). 60,000 training or 10,000 test images
// of 28x28 in 10 classes; named "fashion-mnist/train" or "fashion-mnist/test".
Dataset load_fashion_mnist(const std::string& dir, bool train);

}  // namespace dgc::train
