// cuda-emu's source rewrite: copies a .cu file, turning each triple-chevron launch
//   name<targs><<<grid, block[, smem[, stream]]>>>(args)
// into
//   ::emu::launch(name<targs>, "name<targs>", grid, block[, smem[, stream]])(args)
// and nothing else. Line breaks are kept, and a #line directive names the original file, so
// compiler messages and the emulator's reports point at the real source.
// Usage: translate IN.cu OUT.cpp
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

static bool ident(char c) { return std::isalnum((unsigned char)c) || c == '_' || c == ':'; }

int main(int argc, char **argv) {
    if (argc != 3) {
        std::cerr << "usage: translate IN.cu OUT.cpp\n";
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        std::cerr << "translate: cannot read " << argv[1] << "\n";
        return 1;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string s = buf.str();
    std::string out = "#line 1 \"" + std::string(argv[1]) + "\"\n";
    size_t copied = 0, at = 0;
    int launches = 0;
    while ((at = s.find("<<<", at)) != std::string::npos) {
        // The kernel expression ends just before "<<<": optional template arguments, then a name.
        size_t start = at;
        while (start > 0 && (s[start - 1] == ' ' || s[start - 1] == '\t')) start--;
        if (start > 0 && s[start - 1] == '>') {
            int depth = 0;
            size_t i = start;
            while (i > 0) {
                const char c = s[--i];
                if (c == '>') depth++;
                if (c == '<' && --depth == 0) break;
            }
            if (depth != 0) {
                std::cerr << argv[1] << ": unbalanced template arguments before a launch\n";
                return 1;
            }
            start = i;
        }
        while (start > 0 && ident(s[start - 1])) start--;
        const size_t close = s.find(">>>", at);
        if (close == std::string::npos || start == at) {
            std::cerr << argv[1] << ": a '<<<' without a kernel name or '>>>'\n";
            return 1;
        }
        std::string name = s.substr(start, at - start);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
        std::string quoted;
        for (char c : name) quoted += c == '"' ? '\'' : c;
        out += s.substr(copied, start - copied);
        out += "::emu::launch(" + name + ", \"" + quoted + "\", " + s.substr(at + 3, close - at - 3) + ")";
        copied = close + 3;
        at = copied;
        launches++;
    }
    out += s.substr(copied);
    std::ofstream o(argv[2], std::ios::binary);
    o << out;
    if (!o) {
        std::cerr << "translate: cannot write " << argv[2] << "\n";
        return 1;
    }
    return 0;
}
