// duplex fuzzing — a main() that runs a harness over saved inputs, for any compiler.
// SPDX-License-Identifier: MIT
//
// Linked into the harnesses when DUPLEX_FUZZ_ENGINE=standalone. Usage:
//   utf8_fuzz crash-1234 corpus/utf8/     run each file, and each file under each directory
//   utf8_fuzz < input                     run the bytes read from standard input (no arguments)
// Arguments starting with '-' (libFuzzer flags) are ignored, so a libFuzzer command line can be
// reused as it is. A violated property aborts, naming the input that was running.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void run(const std::vector<char>& bytes) {
    // A copy of exactly the input's size, so out-of-bounds reads hit the end of the block.
    std::vector<std::uint8_t> input(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(input.data(), input.size());
}

bool run_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::cerr << "cannot read " << path.string() << "\n";
        return false;
    }
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    std::cerr << "Running: " << path.string() << " (" << bytes.size() << " bytes)\n";
    run(bytes);
    return true;
}

} // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    if (argc < 2) {
        const std::vector<char> bytes((std::istreambuf_iterator<char>(std::cin)),
                                      std::istreambuf_iterator<char>());
        run(bytes);
        std::cerr << "Executed 1 input from standard input\n";
        return 0;
    }
    std::size_t executed = 0;
    bool all_read = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (!arg.empty() && arg[0] == '-')
            continue;
        std::error_code ec;
        if (fs::is_directory(arg, ec)) {
            std::vector<fs::path> files;
            for (const auto& entry : fs::recursive_directory_iterator(arg, ec))
                if (entry.is_regular_file())
                    files.push_back(entry.path());
            std::sort(files.begin(), files.end()); // a stable order, to reproduce a run
            for (const auto& file : files)
                executed += run_file(file) ? 1 : 0;
        } else {
            const bool ok = run_file(arg);
            executed += ok ? 1 : 0;
            all_read = all_read && ok;
        }
        if (ec) {
            std::cerr << "cannot list " << arg << ": " << ec.message() << "\n";
            all_read = false;
        }
    }
    std::cerr << "Executed " << executed << " inputs\n";
    return all_read ? 0 : 1;
}
