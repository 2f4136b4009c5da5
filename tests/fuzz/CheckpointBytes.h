// Editing checkpoint files as bytes (format 2, runtime/checkpoint.c): the
// checkpoint target repairs the checksums of a mutated file so that it gets
// past them, and the seed maker writes a version 1 file. Every read is
// bounds-checked: the input is anything the fuzzer made.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dlc::fuzz {

inline uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int b = 0; b < 8; ++b)
      c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

inline void putU32(std::vector<uint8_t> &b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b[at + size_t(i)] = uint8_t(v >> (8 * i));
}

// The sections of a version 2 file as [start, end), each with its CRC at
// end: the header, one per variable, the host section; as many as the bytes
// hold.
inline std::vector<std::pair<size_t, size_t>> checkpointSections(const std::vector<uint8_t> &b) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t at = 12, start = 12;
  bool ok = true;
  auto u64 = [&](uint64_t &v) {
    ok = ok && b.size() >= 8 && at <= b.size() - 8;
    v = 0;
    for (int i = 0; ok && i < 8; ++i)
      v |= uint64_t(b[at + size_t(i)]) << (8 * i);
    at += 8;
    return ok;
  };
  auto u32 = [&](uint64_t &v) {
    ok = ok && b.size() >= 4 && at <= b.size() - 4;
    v = 0;
    for (int i = 0; ok && i < 4; ++i)
      v |= uint64_t(b[at + size_t(i)]) << (8 * i);
    at += 4;
    return ok;
  };
  auto skip = [&](uint64_t n) {
    ok = ok && n <= b.size() && at <= b.size() - n;
    if (ok)
      at += n;
    return ok;
  };
  auto end = [&] {
    ok = ok && b.size() >= 4 && at <= b.size() - 4;
    if (ok)
      out.push_back({start, at});
    at += 4;
    start = at;
    return ok;
  };
  uint64_t v, vars, rank;
  if (!u64(v) || !u32(v) || !skip(v) || !u32(vars) || !end())
    return out;
  for (uint64_t i = 0; i < vars; ++i)
    if (!u32(v) || !skip(v) || !u32(v) || !u32(rank) || rank > 32 || !skip(8 * rank) ||
        !u64(v) || !skip(v) || !end())
      return out;
  if (u64(v) && skip(v))
    end();
  return out;
}

// Makes the section CRCs a version 2 file holds, and its last four bytes,
// the checksums of the bytes before them.
inline void repairChecksums(std::vector<uint8_t> &b) {
  if (b.size() < 4)
    return;
  if (b.size() >= 12 && b[8] == 2 && !b[9] && !b[10] && !b[11])
    for (auto [from, to] : checkpointSections(b))
      putU32(b, to, crc32(b.data() + from, to - from));
  putU32(b, b.size() - 4, crc32(b.data(), b.size() - 4));
}

// A version 2 file without its host section, as version 1 wrote it: no
// section CRCs, no host section.
inline std::vector<uint8_t> asVersion1(const std::vector<uint8_t> &b) {
  auto sections = checkpointSections(b);
  std::vector<uint8_t> v1(b.begin(), b.begin() + 12);
  for (size_t s = 0; s + 1 < sections.size(); ++s) // all but the host section
    v1.insert(v1.end(), b.begin() + long(sections[s].first), b.begin() + long(sections[s].second));
  putU32(v1, 8, 1);
  v1.resize(v1.size() + 4);
  putU32(v1, v1.size() - 4, crc32(v1.data(), v1.size() - 4));
  return v1;
}

} // namespace dlc::fuzz
