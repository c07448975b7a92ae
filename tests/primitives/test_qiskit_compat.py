"""Cases adapted from Qiskit's own BackendEstimatorV2 / BackendSamplerV2 tests.

Qiskit's ``test/python/primitives/test_backend_{estimator,sampler}_v2.py`` (not shipped in
the wheel) run against BasicSimulator and fake backends with ISA circuits; here the same
inputs go to our primitives on the fleet's ideal simulator (they transpile themselves, so
observables need no ``apply_layout``). Targets come from Qiskit's reference
``StatevectorEstimator``/exact distributions. Each test names the Qiskit case it adapts;
deviations are said where they are.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from qiskit.circuit import ClassicalRegister, Parameter, QuantumCircuit, QuantumRegister
from qiskit.circuit.library import real_amplitudes
from qiskit.primitives import PrimitiveResult, PubResult, StatevectorEstimator
from qiskit.primitives.containers import BitArray, DataBin
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.quantum_info import SparsePauliOp

from prefect_quantum.fleet import Fleet
from prefect_quantum.primitives import QuantumEstimator, QuantumSampler

PRECISION = 5e-3
SHOTS = 10_000
PSI = (real_amplitudes(2, reps=2), real_amplitudes(2, reps=3))
HAM = (
    SparsePauliOp.from_list([("II", 1), ("IZ", 2), ("XI", 3)]),
    SparsePauliOp.from_list([("IZ", 1)]),
    SparsePauliOp.from_list([("ZI", 1), ("ZZ", 1)]),
)
THETA = ([0, 1, 1, 2, 3, 5], [0, 1, 1, 2, 3, 5, 8, 13], [1, 2, 3, 4, 5, 6])
H2 = SparsePauliOp.from_list([("II", -1.052373245772859), ("IZ", 0.39793742484318045),
                              ("ZI", -0.39793742484318045), ("ZZ", -0.01128010425623538),
                              ("XX", 0.18093119978423156)])


@pytest.fixture
def est(fez_fleet: Fleet) -> Iterator[QuantumEstimator]:
    with QuantumEstimator(fleet=fez_fleet, device="ideal", default_precision=PRECISION,
                          seed=12) as estimator:
        yield estimator


@pytest.fixture
def sampler(fez_fleet: Fleet) -> Iterator[QuantumSampler]:
    with QuantumSampler(fleet=fez_fleet, device="ideal", default_shots=SHOTS,
                        seed=123) as s:
        yield s


def _close(result: PubResult, circuit: QuantumCircuit, obs: object, params: object) -> None:
    target = StatevectorEstimator().run([(circuit, obs, params)]).result()[0].data.evs
    assert result.data.evs.shape == np.shape(target)
    np.testing.assert_allclose(result.data.evs, target, atol=5 * PRECISION * 4)


# --- BackendEstimatorV2 -------------------------------------------------------------------


def test_estimator_run(est: QuantumEstimator) -> None:
    """test_estimator_run."""
    psi1, psi2 = PSI
    h1, h2, h3 = HAM
    t1, t2, t3 = THETA
    _close(est.run([(psi1, h1, [t1])]).result()[0], psi1, h1, [t1])
    _close(est.run([(psi2, h1, t2)]).result()[0], psi2, h1, t2)
    _close(est.run([(psi1, [h2, h3], t1)]).result()[0], psi1, [h2, h3], t1)
    result = est.run([(psi1, [h1, h3], [t1, t3]), (psi2, h2, t2)]).result()
    _close(result[0], psi1, [h1, h3], [t1, t3])
    _close(result[1], psi2, h2, t2)


def test_estimator_with_pub(est: QuantumEstimator) -> None:
    """test_estimator_with_pub: explicit EstimatorPub objects."""
    psi1, psi2 = PSI
    pub1 = EstimatorPub(psi1, ObservablesArray.coerce([HAM[0], HAM[2]]),
                        BindingsArray.coerce({tuple(psi1.parameters): [THETA[0], THETA[2]]}))
    pub2 = EstimatorPub(psi2, ObservablesArray.coerce(HAM[1]),
                        BindingsArray.coerce({tuple(psi2.parameters): THETA[1]}))
    result = est.run([pub1, pub2]).result()
    _close(result[0], psi1, [HAM[0], HAM[2]], [THETA[0], THETA[2]])
    _close(result[1], psi2, HAM[1], THETA[1])


def test_estimator_run_no_params_and_iter_pub(est: QuantumEstimator) -> None:
    """test_estimator_run_no_params and test_iter_pub."""
    circuit = PSI[0].assign_parameters(THETA[0])
    _close(est.run([(circuit, H2)]).result()[0], circuit, H2, None)
    result = est.run(iter([(circuit, H2), (circuit, H2)])).result()
    assert len(result) == 2


@pytest.mark.parametrize("values", [None, [], [[]], np.array([]), np.array([[]]),
                                    [np.array([])]])
def test_run_single_circuit_observable_no_parameter(est: QuantumEstimator,
                                                    values: object) -> None:
    """test_run_single_circuit_observable, "No parameter"."""
    qc = QuantumCircuit(1)
    qc.x(0)
    result = est.run([(qc, SparsePauliOp("Z"), values)]).result()
    np.testing.assert_allclose(result[0].data.evs, -1)
    assert result[0].metadata["target_precision"] == PRECISION


def test_run_single_circuit_observable_parameters(est: QuantumEstimator) -> None:
    """test_run_single_circuit_observable, "One parameter" and "More than one parameter"."""
    param = Parameter("x")
    qc = QuantumCircuit(1)
    qc.ry(param, 0)
    for values in ([np.pi], np.array([np.pi])):
        np.testing.assert_allclose(est.run([(qc, "Z", values)]).result()[0].data.evs, [-1],
                                   atol=1e-9)
    for values in (THETA[0], [THETA[0]], np.array(THETA[0]), np.array([THETA[0]]),
                   [np.array(THETA[0])]):
        pub = est.run([(PSI[0], HAM[0], values)]).result()[0]
        _close(pub, PSI[0], HAM[0], values)


def test_run_1qubit_and_2qubits_endianness(est: QuantumEstimator) -> None:
    """test_run_1qubit and test_run_2qubits."""
    qc1, qc1x = QuantumCircuit(1), QuantumCircuit(1)
    qc1x.x(0)
    expected = {(0, "I"): 1, (0, "Z"): 1, (1, "I"): 1, (1, "Z"): -1}
    for (which, label), value in expected.items():
        result = est.run([((qc1, qc1x)[which], label)]).result()
        np.testing.assert_allclose(result[0].data.evs, value)
    qc2, qc2x = QuantumCircuit(2), QuantumCircuit(2)
    qc2x.x(0)
    expected2 = {(0, "II"): 1, (1, "II"): 1, (0, "ZI"): 1, (1, "ZI"): 1, (0, "IZ"): 1,
                 (1, "IZ"): -1}
    for (which, label), value in expected2.items():
        result = est.run([((qc2, qc2x)[which], label)]).result()
        np.testing.assert_allclose(result[0].data.evs, value)


def test_run_errors(est: QuantumEstimator, fez_fleet: Fleet) -> None:
    """test_run_errors. Deviation: precision 0 is exact on the ideal simulator (as in
    StatevectorEstimator) and a ValueError only on a noisy device."""
    qc, qc2 = QuantumCircuit(1), QuantumCircuit(2)
    op, op2 = SparsePauliOp("I"), SparsePauliOp("II")
    for pubs, kwargs in (
        ([(qc, op2)], {}), ([(qc, op, [[1e4]])], {}), ([(qc2, op2, [[1, 2]])], {}),
        ([(qc, [op, op2], [[1]])], {}), ([(qc, op)], {"precision": -1}),
        ([(qc, 1j * op)], {"precision": 0.1}), ([(qc, op, None, -1)], {}),
    ):
        with pytest.raises(ValueError):
            est.run(pubs, **kwargs).result()
    with pytest.raises(ValueError, match="An invalid Estimator pub-like was given"):
        est.run((qc, op)).result()  # type: ignore[arg-type]
    with QuantumEstimator(fleet=fez_fleet, device="ibm_fez") as noisy:
        for pubs, kwargs in (([(qc, op, None, 0)], {}), ([(qc, op)], {"precision": 0})):
            with pytest.raises(ValueError):
                noisy.run(pubs, **kwargs).result()


def test_run_numpy_params_and_aer_shapes(est: QuantumEstimator) -> None:
    """test_run_numpy_params and test_aer (broadcast shape (3, 2))."""
    rng = np.random.default_rng(12)
    qc = PSI[0]
    op = SparsePauliOp.from_list([("IZ", 1), ("XI", 2), ("ZY", -1)])
    params = rng.random((5, qc.num_parameters))
    for values in (params, list(params)):
        _close(est.run([(qc, op, values)]).result()[0], qc, op, params)
    qc1 = real_amplitudes(2, reps=1)
    ops = [SparsePauliOp("IX"), SparsePauliOp("YI")]
    params2 = rng.random((3, 2, qc1.num_parameters))
    pub = est.run([(qc1, ops, params2)]).result()[0]
    assert pub.data.evs.shape == (3, 2)
    _close(pub, qc1, ops, params2)


def test_precision_diff_precision_and_stds(est: QuantumEstimator) -> None:
    """test_precision, test_diff_precision, test_precision_and_stds. Our stds are the
    shot-noise standard errors of the estimates. (test0_precision_and_stds cannot run on
    Qiskit 2.6: its ObservablesArray rejects all-zero observables before any estimator.)"""
    psi, t = PSI[0], [THETA[0]]
    one = est.run([(psi, HAM[0], t)]).result()
    two = est.run([(psi, HAM[0], t), (psi, HAM[0], t)]).result()
    finer = est.run([(psi, HAM[0], t)], precision=PRECISION / 2).result()
    mixed = est.run([(psi, HAM[0], t), (psi, HAM[0], t, PRECISION * 0.8)]).result()
    for pub in (*one, *two, *finer, *mixed):
        _close(pub, psi, HAM[0], t)
    assert finer[0].metadata["shots"] == 4 * one[0].metadata["shots"]
    assert mixed[1].metadata["shots"] > mixed[0].metadata["shots"]
    hams: list[object] = [HAM[0], SparsePauliOp("ZZ"), SparsePauliOp.from_list([("ZZ", 1)] * 2)]
    for h in [*hams, hams]:
        stds = est.run([(psi, h, t)], precision=PRECISION).result()[0].data.stds
        assert np.all(stds < PRECISION * 3)  # grouped terms add their variances


def test_job_size_is_one_execute(est: QuantumEstimator, fez_fleet: Fleet,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """test_job_size_limit_backend_v2. Deviation: the fleet has no circuit limit, so 5 pubs
    x 2 groups go in ONE execute (Qiskit's limited backend makes 10 calls)."""
    ideal = fez_fleet.ideal_simulator()
    calls: list[int] = []
    original = ideal.execute
    monkeypatch.setattr(ideal, "execute", lambda c, s, **k: calls.append(len(c)) or original(
        c, s, **k))
    op = SparsePauliOp.from_list([("IZ", 1), ("XI", 2), ("ZY", -1)])
    params = np.random.default_rng(0).random(PSI[0].num_parameters).tolist()
    est.run([(PSI[0], op, params)] * 5).result()
    assert calls == [10]


# --- BackendSamplerV2 -------------------------------------------------------------------


def _bell() -> QuantumCircuit:
    bell = QuantumCircuit(2, name="Bell")
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    return bell


def _assert_counts(bits: BitArray, target: dict[int, float], atol: float = 500) -> None:
    counts = bits.get_int_counts()
    for key in set(counts) | set(target):
        assert abs(counts.get(key, 0) - target.get(key, 0)) <= atol, (counts, target)


def test_sampler_run(sampler: QuantumSampler) -> None:
    """test_sampler_run: single, single with parameters, multiple parameter sets."""
    result = sampler.run([_bell()], shots=SHOTS).result()
    assert isinstance(result, PrimitiveResult) and isinstance(result.metadata, dict)
    assert len(result) == 1 and isinstance(result[0], PubResult)
    assert isinstance(result[0].data, DataBin) and isinstance(result[0].data.meas, BitArray)
    _assert_counts(result[0].data.meas, {0: 5000, 3: 5000})
    pqc = QuantumCircuit(2)
    pqc.append(real_amplitudes(num_qubits=2, reps=2), [0, 1])
    pqc.measure_all()
    names = tuple(p.name for p in pqc.parameters)
    one = sampler.run([(pqc, {names: [0] * 6})], shots=SHOTS).result()[0].data.meas
    _assert_counts(one, {0: SHOTS})
    many = sampler.run([(pqc, {names: [[0] * 6] * 3})], shots=SHOTS).result()[0].data.meas
    assert many.shape == (3,)
    for i in range(3):
        assert many.get_int_counts(i) == {0: SHOTS}


def test_sampler_run_multiple_times_and_circuits(fez_fleet: Fleet,
                                                 sampler: QuantumSampler) -> None:
    """test_sampler_run_multiple_times (deviation: a fresh sampler with the same seed repeats
    a run; successive runs of one sampler draw new shots) and test_sample_run_multiple_circuits.
    """
    first = sampler.run([_bell()]).result()[0].data.meas
    with QuantumSampler(fleet=fez_fleet, device="ideal", default_shots=SHOTS, seed=123) as again:
        assert again.run([_bell()]).result()[0].data.meas == first
    result = sampler.run([_bell(), _bell(), _bell()]).result()
    assert len(result) == 3
    for pub in result:
        _assert_counts(pub.data.meas, {0: 5000, 3: 5000})


def test_run_1qubit_2qubit_and_reverse_measurement_order(sampler: QuantumSampler) -> None:
    """test_run_1qubit, test_run_2qubit, test_run_reverse_meas_order."""
    circuits = []
    for flips in ([], [0], [1], [0, 1]):
        qc = QuantumCircuit(2)
        if flips:
            qc.x(flips)
        qc.measure_all()
        circuits.append(qc)
    for i, pub in enumerate(sampler.run(circuits).result()):
        assert pub.data.meas.get_int_counts() == {i: SHOTS}
    x, y = Parameter("x"), Parameter("y")
    qc = QuantumCircuit(3, 3)
    qc.rx(x, 0)
    qc.rx(y, 1)
    qc.x(2)
    qc.measure(0, 2)
    qc.measure(1, 1)
    qc.measure(2, 0)
    result = sampler.run([(qc, [0, 0]), (qc, [np.pi / 2, 0])]).result()
    assert result[0].data.c.get_int_counts() == {1: SHOTS}
    _assert_counts(result[1].data.c, {1: SHOTS / 2, 5: SHOTS / 2})


def test_run_single_circuit_parameter_forms(sampler: QuantumSampler) -> None:
    """test_run_single_circuit: parameter values as names, Parameters, arrays, lists."""
    circuit = QuantumCircuit(1, 1, name="X gate")
    param = Parameter("x")
    circuit.ry(param, 0)
    circuit.measure(0, 0)
    for values in ({"x": np.pi}, {param: np.pi}, {"x": np.array(np.pi)}, {"x": [np.pi]},
                   {param: np.array([np.pi])}):
        pub = sampler.run([(circuit, values)]).result()[0]
        counts = pub.data.c.get_int_counts(0) if pub.data.c.shape else pub.data.c.get_int_counts()
        assert counts == {1: SHOTS}
    for values in (None, {}):
        _assert_counts(sampler.run([(_bell(), values)]).result()[0].data.meas,
                       {0: 5000, 3: 5000})


def test_multiple_registers_and_no_registers(sampler: QuantumSampler) -> None:
    """test_circuit_with_multiple_cregs and test_no_cregs: each register is its own field,
    read from the same shots; a circuit without registers warns and returns no data."""
    q = QuantumRegister(3, "q")
    a, b = ClassicalRegister(1, "a"), ClassicalRegister(2, "b")
    qc = QuantumCircuit(q, a, b)
    qc.h(0)
    qc.cx(0, 1)
    qc.x(2)
    qc.measure(0, a[0])
    qc.measure([1, 2], b)
    data = sampler.run([qc]).result()[0].data
    assert data.a.num_bits == 1 and data.b.num_bits == 2
    both = [(int(x), int(y)) for x, y in zip(data.a.array[:, 0], data.b.array[:, 0],
                                             strict=True)]
    assert set(both) == {(0, 2), (1, 3)}  # b's low bit always equals a: same shots
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sampler.run([QuantumCircuit(1)]).result()
    assert any("no output classical registers" in str(w.message) for w in caught)
    assert len(result[0].data) == 0
