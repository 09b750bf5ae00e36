// Tests of dgc-train's configs: merge order, overrides, every error message, run names, the
// command line, and the real configs/ tree.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "config/command_line.h"
#include "config/config.h"
#include "dgc/error.h"
#include "error_of.h"
#include "scratch_dir.h"

namespace dgc::train {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using dgc::test::thrown_error_of;

// A temporary configs/ tree; paths are given relative to its parent, as a user would.
class TempTree : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(base_ / "configs");
    write("configs/default.yaml", R"(# the schema
seed: 42
name: base
train:
  num_epochs: 10
  lr: 0.1
  dgc: false
  milestones: [30, 60, 80]
  tag: ''
  coeff: ~
  optimizer:
    momentum: 0.9
)");
    write("configs/a/default.yaml", "name: a-default\ntrain:\n  num_epochs: 20\n  lr: 0.2\n");
    write("configs/a/x.yaml", "name: x\ntrain:\n  num_epochs: 30\n");
    write("configs/a/y.yaml", "train:\n  lr: 0.3\n  milestones: [5]\n");
    write("configs/a/b/default.yaml", "train:\n  tag: b-default\n");
    write("configs/a/b/z.yaml", "train:\n  dgc: true\n");
  }

  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((base_ / rel).parent_path());
    std::ofstream(base_ / rel) << text;
  }
  std::string path(const std::string& rel) const { return (base_ / rel).string(); }

  dgc::test::ScratchDir scratch_{"dgc-train-config"};
  const fs::path base_ = scratch_.path();
};

TEST_F(TempTree, DefaultsAloneAreTheSchema) {
  const Config cfg = load_config({path("configs/default.yaml")}, {});
  EXPECT_EQ(cfg.get<std::int64_t>("seed"), 42);
  EXPECT_EQ(cfg.get<std::string>("name"), "base");
  EXPECT_EQ(cfg.sources().size(), 1u);  // default.yaml given as a file is loaded once
}

TEST_F(TempTree, MergeOrderDefaultFolderDefaultFileLaterFileOverride) {
  const Config cfg = load_config({path("configs/a/x.yaml"), path("configs/a/y.yaml")},
                                 {"train.optimizer.momentum=0.5"});
  EXPECT_EQ(cfg.get<std::string>("name"), "x");              // file over folder default
  EXPECT_EQ(cfg.get<std::int64_t>("train.num_epochs"), 30);  // file over folder default
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.lr"), 0.3);        // later file over folder default
  EXPECT_EQ(cfg.get<std::int64_t>("seed"), 42);              // default kept
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.optimizer.momentum"), 0.5);  // override last
  EXPECT_FALSE(cfg.get<bool>("train.dgc"));
}

TEST_F(TempTree, FolderDefaultsLoadOnceOutermostFirst) {
  write("configs/a/b/default.yaml", "name: b-default\ntrain:\n  tag: b-default\n");
  // y's lr would be undone if a/default.yaml were loaded again before z.
  const Config cfg = load_config(
      {path("configs/a/y.yaml"), path("configs/a/b/z.yaml"), path("configs/a/x.yaml")}, {});
  EXPECT_THAT(cfg.sources(),
              ElementsAre(path("configs/default.yaml"), path("configs/a/default.yaml"),
                          path("configs/a/y.yaml"), path("configs/a/b/default.yaml"),
                          path("configs/a/b/z.yaml"), path("configs/a/x.yaml")));
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.lr"), 0.3);
  EXPECT_EQ(cfg.get<std::string>("train.tag"), "b-default");
  EXPECT_EQ(cfg.get<std::string>("name"), "x");
  EXPECT_TRUE(cfg.get<bool>("train.dgc"));
}

TEST_F(TempTree, ListsReplaceAndMapsMerge) {
  const Config cfg = load_config({path("configs/a/y.yaml")}, {});
  EXPECT_THAT(cfg.get<std::vector<std::int64_t>>("train.milestones"), ElementsAre(5));
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.optimizer.momentum"), 0.9);  // sibling map kept
  const Config over = load_config({path("configs/a/y.yaml")}, {"train.milestones=[1, 2]"});
  EXPECT_THAT(over.get<std::vector<std::int64_t>>("train.milestones"), ElementsAre(1, 2));
  const Config empty = load_config({path("configs/a/y.yaml")}, {"train.milestones=[]"});
  EXPECT_TRUE(empty.get<std::vector<double>>("train.milestones").empty());
}

TEST_F(TempTree, OverrideValuesAreYamlScalarsAndFlowLists) {
  const Config cfg = load_config({path("configs/a/x.yaml")},
                                 {"train.dgc=true", "train.lr=1e-3", "train.num_epochs=500",
                                  "train.tag=hello world", "seed=-1", "train.lr=2"});
  EXPECT_TRUE(cfg.get<bool>("train.dgc"));
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.lr"), 2.0);  // an int where a float is: accepted
  EXPECT_EQ(cfg.get<std::int64_t>("train.num_epochs"), 500);
  EXPECT_EQ(cfg.get<std::string>("train.tag"), "hello world");
  EXPECT_EQ(cfg.get<std::int64_t>("seed"), -1);
}

// Found by reading the parser while fuzzing it: "1.e5" (a YAML 1.2 float, a letter after the
// dot) was read as +inf, so `lr: 1.e-3` passed every check as an infinite rate.
TEST_F(TempTree, FloatsWithAnEmptyFractionAreNotInfinite) {
  const Config cfg =
      load_config({path("configs/a/x.yaml")}, {"train.lr=1.e5", "train.optimizer.momentum=-2.E-1"});
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.lr"), 1e5);
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.optimizer.momentum"), -0.2);
  for (const char* text : {".inf", "+.Inf", "-.INF", ".nan"}) {
    const Config special =
        load_config({path("configs/a/x.yaml")}, {std::string("train.lr=") + text});
    const double value = special.get<double>("train.lr");
    if (text[1] == 'n') {
      EXPECT_TRUE(std::isnan(value)) << text;
    } else {
      EXPECT_EQ(value, text[0] == '-' ? -INFINITY : INFINITY) << text;
    }
  }
}

TEST_F(TempTree, NullDefaultsAcceptAnyTypeAndMapsBelowThemMerge) {
  Config cfg = load_config({path("configs/a/x.yaml")}, {"train.coeff=[0.25, 0.5]"});
  EXPECT_TRUE(cfg.is_list("train.coeff"));
  EXPECT_THAT(cfg.get<std::vector<double>>("train.coeff"), ElementsAre(0.25, 0.5));
  cfg = load_config({path("configs/a/x.yaml")}, {"train.coeff=0.3"});
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.coeff"), 0.3);
  EXPECT_TRUE(load_config({path("configs/a/x.yaml")}, {}).is_null("train.coeff"));
  write("configs/a/clip.yaml", "train:\n  coeff: {kind: norm, max_norm: 1.0}\n");
  cfg = load_config({path("configs/a/clip.yaml")}, {"train.coeff.max_norm=2", "train.coeff.p=3"});
  EXPECT_TRUE(cfg.is_map("train.coeff"));
  EXPECT_EQ(cfg.get<std::string>("train.coeff.kind"), "norm");
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.coeff.max_norm"), 2.0);
  EXPECT_EQ(cfg.get<std::int64_t>("train.coeff.p"), 3);
}

TEST_F(TempTree, UnknownKeyInAFileNamesKeyFileAndLine) {
  write("configs/a/bad.yaml", "# comment\ntrain:\n  lrr: 0.1\n");
  const std::string message =
      thrown_error_of([&] { load_config({path("configs/a/bad.yaml")}, {}); });
  EXPECT_THAT(message, HasSubstr("unknown key 'train.lrr'"));
  EXPECT_THAT(message, HasSubstr(path("configs/a/bad.yaml") + ":3"));
  EXPECT_THAT(message, HasSubstr("did you mean 'train.lr'?"));
}

TEST_F(TempTree, UnknownKeySuggestsTheSameNameElsewhere) {
  write("configs/a/bad.yaml", "train:\n  momentum: 0.1\n");
  EXPECT_THAT(thrown_error_of([&] { load_config({path("configs/a/bad.yaml")}, {}); }),
              HasSubstr("did you mean 'train.optimizer.momentum'?"));
  write("configs/a/bad.yaml", "completely_unrelated: 1\n");
  EXPECT_THAT(thrown_error_of([&] { load_config({path("configs/a/bad.yaml")}, {}); }),
              HasSubstr("unknown key 'completely_unrelated'"));
}

TEST_F(TempTree, UnknownKeyInAFolderDefaultNamesThatFile) {
  write("configs/a/b/default.yaml", "train:\n  nope: 1\n");
  const std::string message =
      thrown_error_of([&] { load_config({path("configs/a/b/z.yaml")}, {}); });
  EXPECT_THAT(message, HasSubstr("'train.nope'"));
  EXPECT_THAT(message, HasSubstr(path("configs/a/b/default.yaml")));
}

TEST_F(TempTree, UnknownKeyOnTheCommandLine) {
  const std::string message =
      thrown_error_of([&] { load_config({path("configs/a/x.yaml")}, {"train.num_epoch=5"}); });
  EXPECT_THAT(message, HasSubstr("unknown key 'train.num_epoch'"));
  EXPECT_THAT(message, HasSubstr("command line"));
  EXPECT_THAT(message, HasSubstr("did you mean 'train.num_epochs'?"));
}

TEST_F(TempTree, WrongTypesNameKeyFileExpectedAndFound) {
  write("configs/a/bad.yaml", "train:\n  num_epochs: many\n");
  std::string message = thrown_error_of([&] { load_config({path("configs/a/bad.yaml")}, {}); });
  EXPECT_THAT(message, HasSubstr("wrong type for 'train.num_epochs'"));
  EXPECT_THAT(message, HasSubstr(path("configs/a/bad.yaml") + ":2"));
  EXPECT_THAT(message, HasSubstr("expected an integer, found a string ('many')"));

  write("configs/a/bad.yaml", "train:\n  dgc: {on: true}\n");
  message = thrown_error_of([&] { load_config({path("configs/a/bad.yaml")}, {}); });
  EXPECT_THAT(message, HasSubstr("'train.dgc'"));
  EXPECT_THAT(message, HasSubstr("expected a bool, found a map"));

  write("configs/a/bad.yaml", "train: 3\n");
  EXPECT_THAT(thrown_error_of([&] { load_config({path("configs/a/bad.yaml")}, {}); }),
              HasSubstr("expected a map, found an integer ('3')"));

  write("configs/a/bad.yaml", "train:\n  num_epochs: 2.5\n");  // a float where an int is
  EXPECT_THAT(thrown_error_of([&] { load_config({path("configs/a/bad.yaml")}, {}); }),
              HasSubstr("expected an integer, found a number ('2.5')"));

  write("configs/a/bad.yaml", "train:\n  lr: '0.1'\n");  // quoted: a string
  EXPECT_THAT(thrown_error_of([&] { load_config({path("configs/a/bad.yaml")}, {}); }),
              HasSubstr("expected a number, found a string ('0.1')"));

  write("configs/a/bad.yaml", "train:\n  milestones: [1, x]\n");
  EXPECT_THAT(thrown_error_of([&] { load_config({path("configs/a/bad.yaml")}, {}); }),
              HasSubstr("'train.milestones[1]'"));

  message = thrown_error_of([&] { load_config({path("configs/a/x.yaml")}, {"train.lr=fast"}); });
  EXPECT_THAT(message, HasSubstr("wrong type for 'train.lr' in the command line"));
  EXPECT_THAT(message, HasSubstr("expected a number, found a string ('fast')"));
  EXPECT_THAT(thrown_error_of([&] { load_config({path("configs/a/x.yaml")}, {"train.dgc=yes"}); }),
              HasSubstr("expected a bool"));  // YAML 1.2: "yes" is a string
}

TEST_F(TempTree, MissingAndBrokenFiles) {
  std::string message = thrown_error_of([&] { load_config({path("configs/a/nothere.yaml")}, {}); });
  EXPECT_THAT(message, HasSubstr(path("configs/a/nothere.yaml")));
  EXPECT_THAT(message, HasSubstr("no such file"));

  write("configs/a/broken.yaml", "train: [1, 2\n");
  message = thrown_error_of([&] { load_config({path("configs/a/broken.yaml")}, {}); });
  EXPECT_THAT(message, HasSubstr("cannot parse '" + path("configs/a/broken.yaml")));

  write("configs/a/list.yaml", "- 1\n- 2\n");
  EXPECT_THAT(thrown_error_of([&] { load_config({path("configs/a/list.yaml")}, {}); }),
              HasSubstr("must be a map of settings at its top level"));

  write("elsewhere/x.yaml", "seed: 1\n");
  EXPECT_THAT(thrown_error_of([&] { load_config({path("elsewhere/x.yaml")}, {}); }),
              HasSubstr("is not inside a directory named 'configs'"));
  write("configs2/configs/x.yaml", "seed: 1\n");
  EXPECT_THAT(thrown_error_of([&] { load_config({path("configs2/configs/x.yaml")}, {}); }),
              HasSubstr(path("configs2/configs/default.yaml")));
  EXPECT_THAT(thrown_error_of([&] {
                load_config({path("configs/a/x.yaml"), path("configs2/configs/x.yaml")}, {});
              }),
              HasSubstr("is not under the configs root"));
}

TEST_F(TempTree, EmptyFileChangesNothing) {
  write("configs/a/empty.yaml", "# nothing yet\n");
  EXPECT_EQ(load_config({path("configs/a/empty.yaml")}, {}).get<std::string>("name"), "a-default");
}

TEST_F(TempTree, BadOverrideSyntax) {
  const auto load = [&](const std::string& item) {
    return thrown_error_of([&] { load_config({path("configs/a/x.yaml")}, {item}); });
  };
  EXPECT_THAT(load("train.num_epochs"),
              HasSubstr("bad override 'train.num_epochs': expected key=value"));
  EXPECT_THAT(load("=5"), HasSubstr("bad override '=5'"));
  EXPECT_THAT(load("train..lr=5"), HasSubstr("is not a dotted key"));
  EXPECT_THAT(load("train.milestones=[1, 2"), HasSubstr("the value is not YAML"));
}

TEST_F(TempTree, TypedAccessErrorsNameTheKey) {
  const Config cfg = load_config({path("configs/a/x.yaml")}, {});
  EXPECT_FALSE(cfg.has("train.nothing"));
  EXPECT_FALSE(cfg.has("train.lr.deeper"));
  EXPECT_TRUE(cfg.has("train.coeff"));
  EXPECT_THAT(thrown_error_of([&] { cfg.get<double>("train.nothing"); }),
              HasSubstr("no key 'train.nothing'"));
  EXPECT_THAT(thrown_error_of([&] { cfg.get<std::int64_t>("train.lr"); }),
              HasSubstr("'train.lr' must be an integer"));
  EXPECT_THAT(thrown_error_of([&] { cfg.get<bool>("name"); }),
              HasSubstr("'name' must be true or false"));
  EXPECT_THAT(thrown_error_of([&] { cfg.get<std::vector<double>>("train.lr"); }),
              HasSubstr("'train.lr' must be a list"));
  EXPECT_THAT(thrown_error_of([&] { cfg.get<double>("train.coeff"); }),
              HasSubstr("'train.coeff' must be a number, found null"));
  EXPECT_THAT(thrown_error_of([&] { cfg.is_null("nope"); }), HasSubstr("no key 'nope'"));
}

TEST_F(TempTree, ToYamlRoundTrips) {
  const Config cfg = load_config({path("configs/a/y.yaml")}, {"train.coeff=[1, 1]"});
  const YAML::Node back = YAML::Load(cfg.to_yaml());
  EXPECT_EQ(back["train"]["lr"].Scalar(), "0.3");
  EXPECT_EQ(back["train"]["coeff"].size(), 2u);
  EXPECT_EQ(back["name"].Scalar(), "a-default");
}

TEST(RunName, SeedExample) {
  EXPECT_EQ(run_name({"configs/cifar/resnet20.yaml", "configs/dgc/wm5.yaml",
                      "configs/dgc/fp16.yaml", "configs/dgc/int32.yaml"},
                     ".e500", 8),
            "[cifar.resnet20+dgc.[wm5+fp16+int32]].e500.np8");
  EXPECT_EQ(run_name({"configs/cifar/resnet20.yaml"}), "cifar.resnet20");
  EXPECT_EQ(run_name({"configs/cifar/resnet20.yaml", "configs/dgc/wm0.yaml"}, "", 2),
            "[cifar.resnet20+dgc.wm0].np2");
  EXPECT_EQ(run_name({"./configs/fmnist/convnet.yaml", "configs/dgc/wm5.yaml"}),
            "[fmnist.convnet+dgc.wm5]");
  EXPECT_EQ(run_name({}, "", 1), "default.np1");
}

TEST(CommandLine, SeedExample) {
  const CommandLine cl = parse_command_line(
      {"--configs", "configs/cifar/resnet20.yaml", "configs/dgc/wm5.yaml", "configs/dgc/fp16.yaml",
       "configs/dgc/int32.yaml", "--configs.train.num_epochs", "500", "--suffix", ".e500"});
  EXPECT_THAT(cl.configs, ElementsAre("configs/cifar/resnet20.yaml", "configs/dgc/wm5.yaml",
                                      "configs/dgc/fp16.yaml", "configs/dgc/int32.yaml"));
  EXPECT_THAT(cl.overrides, ElementsAre("train.num_epochs=500"));
  EXPECT_EQ(cl.suffix, ".e500");
  EXPECT_FALSE(cl.evaluate);
  EXPECT_EQ(cl.devices, "cpu");
}

TEST(CommandLine, OtherForms) {
  const char* argv[] = {
      "dgc-train",        "--configs",        "a/configs/x.yaml",   "train.lr=0.5",
      "a/configs/y.yaml", "--configs.seed=7", "--configs.train.lr", "-1",
      "--evaluate",       "--devices=cpu",    "--suffix=.s"};
  const CommandLine cl = parse_command_line(11, argv);
  EXPECT_THAT(cl.configs, ElementsAre("a/configs/x.yaml", "a/configs/y.yaml"));
  EXPECT_THAT(cl.overrides, ElementsAre("train.lr=0.5", "seed=7", "train.lr=-1"));
  EXPECT_TRUE(cl.evaluate);
  EXPECT_TRUE(cl.checkpoint.empty());
  EXPECT_EQ(cl.suffix, ".s");
  EXPECT_TRUE(parse_command_line(std::vector<std::string>{}).configs.empty());
  EXPECT_EQ(parse_command_line({"--evaluate", "--checkpoint", "runs/x/e3-r0.pt"}).checkpoint,
            "runs/x/e3-r0.pt");
  EXPECT_EQ(parse_command_line({"--checkpoint=b.pt", "--evaluate"}).checkpoint, "b.pt");
}

TEST(CommandLine, Errors) {
  const auto parse = [](std::vector<std::string> args) {
    return thrown_error_of([&] { parse_command_line(args); });
  };
  EXPECT_THAT(parse({"--config", "a.yaml"}), HasSubstr("unknown option '--config'"));
  EXPECT_THAT(parse({"-v"}), HasSubstr("unknown option '-v'"));
  EXPECT_THAT(parse({"--devices", "0,1"}), HasSubstr("only cpu is supported"));
  EXPECT_THAT(parse({"--configs", "a.yaml", "--suffix"}), HasSubstr("--suffix needs a value"));
  EXPECT_THAT(parse({"--configs.train.lr"}), HasSubstr("--configs.train.lr needs a value"));
  EXPECT_THAT(parse({"--configs.train.lr", "--evaluate"}), HasSubstr("needs a value"));
  EXPECT_THAT(parse({"--configs", "--evaluate"}), HasSubstr("--configs needs at least one file"));
  EXPECT_THAT(parse({"a.yaml"}), HasSubstr("unexpected argument 'a.yaml'"));
  EXPECT_THAT(parse({"--configs.", "1"}), HasSubstr("names no config key"));
  EXPECT_THAT(parse({"--checkpoint", "a.pt"}), HasSubstr("--checkpoint is for --evaluate"));
  EXPECT_THAT(parse({"--evaluate", "--checkpoint"}), HasSubstr("--checkpoint needs a value"));
}

// The real configs/ tree of the source checkout.
class RealConfigs : public ::testing::Test {
 protected:
  static std::string path(const std::string& rel) {
    return (fs::path(DGC_SOURCE_DIR) / "configs" / rel).string();
  }
};

TEST_F(RealConfigs, EveryFileLoadsAndStartsWithAComment) {
  int count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(DGC_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    SCOPED_TRACE(entry.path().string());
    std::ifstream in(entry.path());
    std::string first;
    std::getline(in, first);
    EXPECT_EQ(first.rfind("# ", 0), 0u);
    const Config cfg = load_config({entry.path().string()}, {});
    EXPECT_EQ(cfg.get<std::int64_t>("seed"), 42);
    EXPECT_GT(cfg.get<std::int64_t>("train.num_epochs"), 0);
    cfg.get<std::string>("model.name");
    cfg.get<std::string>("dataset.name");
  }
  EXPECT_EQ(count, 23);  // default + cifar 3 + dgc 10 + fmnist 4 (with the demo) + imagenet 5
}

TEST_F(RealConfigs, SeedExampleResolves) {
  const CommandLine cl = parse_command_line(
      {"--configs", path("cifar/resnet20.yaml"), path("dgc/wm5.yaml"), path("dgc/fp16.yaml"),
       path("dgc/int32.yaml"), "--configs.train.num_epochs", "500", "--suffix", ".e500"});
  const Config cfg = load_config(cl.configs, cl.overrides);
  EXPECT_TRUE(cfg.get<bool>("train.dgc"));
  EXPECT_TRUE(cfg.get<bool>("train.compression.fp16_values"));
  EXPECT_TRUE(cfg.get<bool>("train.compression.int32_indices"));
  EXPECT_EQ(cfg.get<std::int64_t>("train.compression.warmup_epochs"), 5);
  EXPECT_THAT(cfg.get<std::vector<double>>("train.compression.warmup_coeff"),
              ElementsAre(0.25, 0.063, 0.015, 0.004, 0.001));
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.compression.compress_ratio"), 0.001);
  EXPECT_EQ(cfg.get<std::int64_t>("train.num_epochs"), 500);
  EXPECT_EQ(cfg.get<std::string>("dataset.name"), "cifar10");
  EXPECT_EQ(cfg.get<std::string>("model.name"), "resnet20");
  EXPECT_EQ(cfg.get<std::int64_t>("train.batch_size"), 128);
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.optimizer.lr"), 0.1);
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.optimizer.weight_decay"), 1e-4);
  EXPECT_EQ(cfg.get<std::string>("train.schedule.name"), "cosine");
  EXPECT_TRUE(cfg.is_null("train.compression.memory.momentum"));
  EXPECT_EQ(run_name(cl.configs, cl.suffix, 8), "[cifar.resnet20+dgc.[wm5+fp16+int32]].e500.np8");
  // dgc/default.yaml once, before the first dgc file.
  EXPECT_THAT(cfg.sources(),
              ElementsAre(path("default.yaml"), path("cifar/default.yaml"),
                          path("cifar/resnet20.yaml"), path("dgc/default.yaml"),
                          path("dgc/wm5.yaml"), path("dgc/fp16.yaml"), path("dgc/int32.yaml")));
}

// The seed's headline command: mpirun -np 32 -H server0:8,... train.py --configs
// configs/imagenet/resnet50.py configs/dgc/wm0.py (ALGORITHM.md section 9's ImageNet defaults).
TEST_F(RealConfigs, SeedImageNetExampleResolves) {
  const CommandLine cl =
      parse_command_line({"--configs", path("imagenet/resnet50.yaml"), path("dgc/wm0.yaml")});
  const Config cfg = load_config(cl.configs, cl.overrides);
  EXPECT_EQ(cfg.get<std::string>("dataset.name"), "imagenet");
  EXPECT_EQ(cfg.get<std::int64_t>("dataset.num_classes"), 1000);
  EXPECT_EQ(cfg.get<std::int64_t>("dataset.image_size"), 224);
  EXPECT_EQ(cfg.get<std::int64_t>("dataset.num_channels"), 3);
  EXPECT_TRUE(cfg.get<bool>("dataset.augment"));
  EXPECT_THAT(cfg.get<std::vector<double>>("dataset.mean"), ElementsAre(0.485, 0.456, 0.406));
  EXPECT_THAT(cfg.get<std::vector<double>>("dataset.std"), ElementsAre(0.229, 0.224, 0.225));
  EXPECT_EQ(cfg.get<std::string>("model.name"), "resnet50");
  EXPECT_TRUE(cfg.get<bool>("model.zero_init_residual"));
  EXPECT_EQ(cfg.get<std::int64_t>("train.num_epochs"), 90);
  EXPECT_EQ(cfg.get<std::int64_t>("train.batch_size"), 32);
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.optimizer.lr"), 0.0125);
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.optimizer.momentum"), 0.9);
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.optimizer.weight_decay"), 1e-4);
  EXPECT_TRUE(cfg.get<bool>("train.optimizer.nesterov"));
  EXPECT_TRUE(cfg.get<bool>("train.optimize_bn_separately"));
  EXPECT_EQ(cfg.get<std::string>("train.schedule.name"), "multistep");
  EXPECT_EQ(cfg.get<std::int64_t>("train.schedule.warmup_lr_epochs"), 5);
  EXPECT_THAT(cfg.get<std::vector<std::int64_t>>("train.schedule.milestones"),
              ElementsAre(30, 60, 80));
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.schedule.gamma"), 0.1);
  EXPECT_TRUE(cfg.get<bool>("train.dgc"));
  EXPECT_EQ(cfg.get<std::int64_t>("train.compression.warmup_epochs"), 0);
  EXPECT_DOUBLE_EQ(cfg.get<double>("train.compression.compress_ratio"), 0.001);
  EXPECT_FALSE(cfg.get<bool>("train.compression.fp16_values"));
  EXPECT_FALSE(cfg.get<bool>("train.compression.int32_indices"));
  EXPECT_EQ(run_name(cl.configs, cl.suffix, 32), "[imagenet.resnet50+dgc.wm0].np32");
  EXPECT_THAT(cfg.sources(), ElementsAre(path("default.yaml"), path("imagenet/default.yaml"),
                                         path("imagenet/resnet50.yaml"), path("dgc/default.yaml"),
                                         path("dgc/wm0.yaml")));
  // The other ImageNet files: the models, and cosine in place of the steps.
  EXPECT_EQ(load_config({path("imagenet/vgg16_bn.yaml")}, {}).get<std::string>("model.name"),
            "vgg16_bn");
  const Config r18 = load_config({path("imagenet/resnet18.yaml")}, {});
  EXPECT_EQ(r18.get<std::string>("model.name"), "resnet18");
  EXPECT_FALSE(r18.get<bool>("model.zero_init_residual"));
  EXPECT_DOUBLE_EQ(r18.get<double>("train.optimizer.weight_decay"), 5e-5);
  EXPECT_FALSE(r18.get<bool>("train.optimizer.nesterov"));
  EXPECT_EQ(load_config({path("imagenet/resnet50.yaml"), path("imagenet/cosine.yaml")}, {})
                .get<std::string>("train.schedule.name"),
            "cosine");
}

TEST_F(RealConfigs, DgcVariants) {
  const auto with = [&](const std::string& file) {
    return load_config({path("fmnist/convnet.yaml"), path(file)}, {});
  };
  EXPECT_FALSE(load_config({path("fmnist/convnet.yaml")}, {}).get<bool>("train.dgc"));
  EXPECT_EQ(with("dgc/wm0.yaml").get<std::int64_t>("train.compression.warmup_epochs"), 0);
  const Config wm2 = with("dgc/wm2.yaml");
  EXPECT_EQ(wm2.get<std::int64_t>("train.compression.warmup_epochs"), 2);
  EXPECT_THAT(wm2.get<std::vector<double>>("train.compression.warmup_coeff"),
              ElementsAre(0.1, 0.01));
  EXPECT_THAT(with("dgc/wm5o.yaml").get<std::vector<double>>("train.compression.warmup_coeff"),
              ElementsAre(1, 1, 1, 1, 1));
  EXPECT_TRUE(with("dgc/mm.yaml").get<bool>("train.compression.memory.momentum_masking"));
  EXPECT_FALSE(with("dgc/nm.yaml").get<bool>("train.compression.memory.momentum_masking"));
  const Config fmnist = with("dgc/default.yaml");
  EXPECT_TRUE(fmnist.get<bool>("train.dgc"));
  EXPECT_EQ(fmnist.get<std::string>("dataset.root"), "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(fmnist.get<std::int64_t>("dataset.num_channels"), 1);
  EXPECT_EQ(fmnist.get<std::int64_t>("dataset.image_size"), 28);
  EXPECT_EQ(fmnist.get<std::string>("model.name"), "fmnist_convnet");
}

}  // namespace
}  // namespace dgc::train
