// Writes the seed corpora of the fuzz harnesses from the test fixtures, so the fixtures stay the
// one source of real packets (STYLE.md: "the same files seed the fuzzers") and no binary seed is
// committed. Run by the build (target fuzz_seeds):
//
//   make_seeds FIXTURES_DIR CONFIG_EXAMPLE OUT_DIR
//
// OUT_DIR/<harness>/ gets, per packet fixture, the bytes in the input layout of that harness
// (see each fuzz_*.cc); config and CSV fixtures are copied as they are.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/probe/fixtures.h"

namespace fs = std::filesystem;

namespace {

using Packet = std::vector<std::uint8_t>;

void Write(const fs::path& dir, const std::string& name, const Packet& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

Packet Cat(std::initializer_list<std::uint8_t> head, const Packet& tail) {
  Packet out(head);
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: make_seeds FIXTURES_DIR CONFIG_EXAMPLE OUT_DIR\n";
    return 2;
  }
  const fs::path fixtures = argv[1];
  const fs::path out = argv[3];
  try {
    for (const auto& entry : fs::directory_iterator(fixtures / "packets")) {
      if (entry.path().extension() != ".hex") continue;
      const std::string name = entry.path().stem().string() + ".bin";
      Packet frame = portpath::testing::ParseHex(Slurp(entry.path()));
      Packet ip = frame;
      if (name.rfind("sll2_", 0) == 0) {  // a whole captured frame, Linux cooked header first
        Write(out / "link_layer", name, Cat({3}, frame));
        ip.erase(ip.begin(), ip.begin() + 20);
      }
      if (ip.empty()) continue;
      Write(out / "ip_packet", name, ip);

      const bool v6 = (ip[0] >> 4) == 6;
      const std::size_t header = v6 ? 40 : (ip[0] & 0x0f) * 4u;
      const std::uint8_t protocol = v6 ? ip[6] : ip[9];
      if (ip.size() < header) continue;
      const Packet payload(ip.begin() + static_cast<std::ptrdiff_t>(header), ip.end());
      const bool icmp = protocol == 1 || protocol == 58;
      if (icmp || protocol == 6) {
        const std::uint8_t selector =
            static_cast<std::uint8_t>(0x40 | (icmp ? 2 : 0) | (v6 ? 1 : 0));
        Write(out / "transport", name, Cat({selector}, payload));
      }
      if (icmp) Write(out / "icmp_extensions", name, Cat({static_cast<std::uint8_t>(v6)}, payload));

      // The same packet behind each link-layer header the capture may report.
      const std::uint8_t et_hi = v6 ? 0x86 : 0x08, et_lo = v6 ? 0xdd : 0x00;
      Packet eth = {0, 0x16, 0x3e, 0, 0, 1, 0, 0x16, 0x3e, 0, 0, 2, et_hi, et_lo};
      eth.insert(eth.end(), ip.begin(), ip.end());
      Write(out / "link_layer", "eth_" + name, Cat({0}, eth));
      Packet vlan = {0, 0x16, 0x3e, 0, 0, 1, 0, 0x16, 0x3e, 0, 0, 2, 0x81, 0, 0, 42, et_hi, et_lo};
      vlan.insert(vlan.end(), ip.begin(), ip.end());
      Write(out / "link_layer", "vlan_" + name, Cat({0}, vlan));
      Write(out / "link_layer", "raw_" + name, Cat({1}, ip));
      Packet sll = {0, 0, 0, 1, 0, 6, 0, 0x16, 0x3e, 0, 0, 2, 0, 0, et_hi, et_lo};
      sll.insert(sll.end(), ip.begin(), ip.end());
      Write(out / "link_layer", "sll_" + name, Cat({2}, sll));
    }
    const auto copy_all = [&](const fs::path& dir, const std::string& ext, const fs::path& to) {
      for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.path().extension() != ext) continue;
        fs::create_directories(to);
        std::string name = fs::relative(entry.path(), dir).string();
        for (char& c : name) c = c == '/' ? '_' : c;
        fs::copy_file(entry.path(), to / name, fs::copy_options::overwrite_existing);
      }
    };
    copy_all(fixtures / "config", ".yaml", out / "config");
    fs::create_directories(out / "config");
    fs::copy_file(argv[2], out / "config" / "example.yaml", fs::copy_options::overwrite_existing);
    copy_all(fixtures / "asn", ".csv", out / "asn_csv");
  } catch (const std::exception& e) {
    std::cerr << "make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
