//! The floating-point type the model is written over: `f32` for real runs, `f64` for gradient
//! checks. One trait so that forward and backward exist once, plus the matrix product, which is
//! the only place that needs to know the concrete type (`matrixmultiply`'s sgemm or dgemm).

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use num_traits::Float;

/// A float the model can run in.
pub trait Real:
    Float
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Send
    + Sync
    + Default
    + Debug
    + Display
    + 'static
{
    /// Converts from `f64`, rounding for `f32`.
    fn of(x: f64) -> Self;
    fn to_f64(self) -> f64;

    /// `C = alpha * A B + beta * C` with explicit row and column strides.
    ///
    /// # Safety
    /// The strides and sizes must describe memory inside the slices; [`gemm`] checks that.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        a_strides: (isize, isize),
        b: *const Self,
        b_strides: (isize, isize),
        beta: Self,
        c: *mut Self,
        c_strides: (isize, isize),
    );
}

impl Real for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        (rsa, csa): (isize, isize),
        b: *const f32,
        (rsb, csb): (isize, isize),
        beta: f32,
        c: *mut f32,
        (rsc, csc): (isize, isize),
    ) {
        matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
    }
}

impl Real for f64 {
    fn of(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        a: *const f64,
        (rsa, csa): (isize, isize),
        b: *const f64,
        (rsb, csb): (isize, isize),
        beta: f64,
        c: *mut f64,
        (rsc, csc): (isize, isize),
    ) {
        matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
    }
}

/// Furthest element a strided `rows x cols` view touches, plus one.
fn extent(rows: usize, cols: usize, (rs, cs): (isize, isize)) -> usize {
    if rows == 0 || cols == 0 {
        return 0;
    }
    (rows - 1) * rs as usize + (cols - 1) * cs as usize + 1
}

/// A strided matrix view: the slice and its (row, column) strides.
pub type View<'a, T> = (&'a [T], (isize, isize));

/// `C (m x n) = alpha * A (m x k) * B (k x n) + beta * C`, bounds-checked.
pub fn gemm<T: Real>(
    (m, k, n): (usize, usize, usize),
    alpha: T,
    (a, a_strides): View<T>,
    (b, b_strides): View<T>,
    beta: T,
    c: &mut [T],
    c_strides: (isize, isize),
) {
    assert!(extent(m, k, a_strides) <= a.len(), "gemm: A out of bounds");
    assert!(extent(k, n, b_strides) <= b.len(), "gemm: B out of bounds");
    assert!(extent(m, n, c_strides) <= c.len(), "gemm: C out of bounds");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the three asserts above keep every access inside the slices.
    unsafe {
        T::gemm_raw(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            a_strides,
            b.as_ptr(),
            b_strides,
            beta,
            c.as_mut_ptr(),
            c_strides,
        )
    }
}

/// `y (rows x out) = x (rows x in) W^T`, with `W` stored `out x in` as in PyTorch's `nn.Linear`.
pub fn linear<T: Real>(
    x: &[T],
    rows: usize,
    weight: &[T],
    in_dim: usize,
    out_dim: usize,
) -> Vec<T> {
    let mut y = vec![T::zero(); rows * out_dim];
    let (i, o) = (in_dim as isize, out_dim as isize);
    gemm(
        (rows, in_dim, out_dim),
        T::one(),
        (x, (i, 1)),
        (weight, (1, i)),
        T::zero(),
        &mut y,
        (o, 1),
    );
    y
}

/// Backward of [`linear`]: returns `dx = dy W` and adds `dy^T x` into `d_weight`.
pub fn linear_backward<T: Real>(
    dy: &[T],
    x: &[T],
    rows: usize,
    weight: &[T],
    d_weight: &mut [T],
    in_dim: usize,
    out_dim: usize,
) -> Vec<T> {
    let (i, o) = (in_dim as isize, out_dim as isize);
    let mut dx = vec![T::zero(); rows * in_dim];
    gemm(
        (rows, out_dim, in_dim),
        T::one(),
        (dy, (o, 1)),
        (weight, (i, 1)),
        T::zero(),
        &mut dx,
        (i, 1),
    );
    gemm(
        (out_dim, rows, in_dim),
        T::one(),
        (dy, (1, o)),
        (x, (i, 1)),
        T::one(),
        d_weight,
        (i, 1),
    );
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_matches_a_naive_product() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
        let w = [1.0, 0.0, -1.0, 0.5, 0.5, 0.5]; // 2 x 3
        let y = linear::<f64>(&x, 2, &w, 3, 2);
        assert_eq!(y, vec![-2.0, 3.0, -2.0, 7.5]);
        let mut dw = [0.0; 6];
        let dx = linear_backward::<f64>(&[1.0, 0.0, 0.0, 1.0], &x, 2, &w, &mut dw, 3, 2);
        assert_eq!(dx, vec![1.0, 0.0, -1.0, 0.5, 0.5, 0.5]);
        assert_eq!(dw, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }
}
