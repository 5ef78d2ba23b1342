//! GGML tensor types and their dequantisation to f32. Block layouts follow ggml's `ggml-common.h`:
//! every block stores its scale(s) as f16 followed by packed integers.

use anyhow::bail;

/// Converts an IEEE half to f32.
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exp = ((bits >> 10) & 0x1f) as u32;
    let mant = (bits & 0x3ff) as u32;
    let out = if exp == 0 {
        if mant == 0 {
            sign
        } else {
            // Subnormal: normalise.
            let mut e = 127 - 15 + 1;
            let mut m = mant;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((m & 0x3ff) << 13)
        }
    } else if exp == 31 {
        sign | 0x7f80_0000 | (mant << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (mant << 13)
    };
    f32::from_bits(out)
}

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
}

/// Bytes taken by `n` elements of GGML type `ty`.
pub fn byte_size(ty: u32, n: usize) -> anyhow::Result<usize> {
    let (block, bytes) = match ty {
        0 => (1, 4),
        1 | 30 => (1, 2),
        2 => (32, 18),
        3 => (32, 20),
        8 => (32, 34),
        14 => (256, 210),
        other => bail!("GGML tensor type {other} is not supported (F32, F16, BF16, Q4_0, Q4_1, Q8_0, Q6_K are)"),
    };
    if n % block != 0 {
        bail!("{n} elements is not a whole number of {block}-element blocks");
    }
    Ok(n / block * bytes)
}

/// Dequantises `n` elements of type `ty` from `bytes`.
pub fn dequantize(ty: u32, bytes: &[u8], n: usize) -> anyhow::Result<Vec<f32>> {
    let size = byte_size(ty, n)?;
    anyhow::ensure!(bytes.len() >= size, "tensor data is truncated");
    let mut out = Vec::with_capacity(n);
    match ty {
        0 => out.extend(
            bytes[..size]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
        1 => out.extend(
            bytes[..size]
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))),
        ),
        30 => out.extend(
            bytes[..size]
                .chunks_exact(2)
                .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)),
        ),
        // Q4_0: d, 16 bytes; element j is low nibble of byte j, element j+16 the high one; (q-8)*d.
        2 => {
            for block in bytes[..size].chunks_exact(18) {
                let d = f16_at(block, 0);
                let qs = &block[2..];
                let mut vals = [0f32; 32];
                for j in 0..16 {
                    vals[j] = ((qs[j] & 0x0f) as i32 - 8) as f32 * d;
                    vals[j + 16] = ((qs[j] >> 4) as i32 - 8) as f32 * d;
                }
                out.extend_from_slice(&vals);
            }
        }
        // Q4_1: d, m, 16 bytes; q*d + m, same nibble order as Q4_0.
        3 => {
            for block in bytes[..size].chunks_exact(20) {
                let (d, m) = (f16_at(block, 0), f16_at(block, 2));
                let qs = &block[4..];
                let mut vals = [0f32; 32];
                for j in 0..16 {
                    vals[j] = (qs[j] & 0x0f) as f32 * d + m;
                    vals[j + 16] = (qs[j] >> 4) as f32 * d + m;
                }
                out.extend_from_slice(&vals);
            }
        }
        // Q8_0: d, 32 signed bytes; q*d.
        8 => {
            for block in bytes[..size].chunks_exact(34) {
                let d = f16_at(block, 0);
                out.extend(block[2..].iter().map(|&q| q as i8 as f32 * d));
            }
        }
        // Q6_K: 256-element super-blocks: ql[128] low 4 bits, qh[64] high 2 bits, 16 int8 scales, d.
        14 => {
            for block in bytes[..size].chunks_exact(210) {
                let (ql, qh, sc) = (&block[..128], &block[128..192], &block[192..208]);
                let d = f16_at(block, 208);
                let mut vals = [0f32; 256];
                for half in 0..2 {
                    let (ql, qh, sc) = (&ql[half * 64..], &qh[half * 32..], &sc[half * 8..]);
                    for l in 0..32 {
                        let is = l / 16;
                        let q1 = ((ql[l] & 0xf) | ((qh[l] & 3) << 4)) as i32 - 32;
                        let q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                        let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                        let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                        let base = half * 128;
                        vals[base + l] = d * (sc[is] as i8) as f32 * q1 as f32;
                        vals[base + l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                        vals[base + l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                        vals[base + l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
                    }
                }
                out.extend_from_slice(&vals);
            }
        }
        _ => unreachable!("byte_size rejected the type"),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_convert() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
    }

    #[test]
    fn q4_1_block_dequantises() {
        let mut block = vec![0u8; 20];
        block[..2].copy_from_slice(&0x3800u16.to_le_bytes()); // d = 0.5
        block[2..4].copy_from_slice(&0xbc00u16.to_le_bytes()); // m = -1
        block[4] = 0x3a; // element 0: 10, element 16: 3
        let v = dequantize(3, &block, 32).unwrap();
        assert_eq!((v[0], v[16], v[1]), (4.0, 0.5, -1.0));
    }
}
