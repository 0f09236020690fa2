"Shared by the training tests: a 70-face synthetic FER2013 csv (one batch per epoch at the `tiny` settings)."
import pytest, torch

@pytest.fixture(scope="session")
def csv(tmp_path_factory):
    "70 synthetic faces as a FER2013 csv; one torch thread (tiny tensors; identical sums in every test)."
    from lhc_fer.data import write_fer2013_csv
    from lhc_fer.synthetic import synthetic_faces
    torch.set_num_threads(1)
    p = tmp_path_factory.mktemp("data")/"faces.csv"
    write_fer2013_csv(synthetic_faces(70, seed=0), p)
    return str(p)
